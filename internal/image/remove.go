package image

// RemoveOwned deletes folders whose files belong to ids of this store's flavour, such as a
// sandbox's overlay upper folder: as an ordinary user with subordinate ids, in a user namespace
// mapped like the sandboxes, where the user is root over all of them.
func (s *Store) RemoveOwned(paths ...string) error { return s.unpacker.remove(paths...) }

// RemoveOwned deletes folders whose files belong to ids of the flavour of sandboxes this process
// starts (see Store.RemoveOwned); the engine calls it for a sandbox's overlay upper.
func RemoveOwned(paths ...string) error { return newUnpacker(CurrentFlavour()).remove(paths...) }
