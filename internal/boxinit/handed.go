package boxinit

// Descriptors the supervisor hands the init.
const (
	ControlFD  = 3 // unix socket to the supervisor: config in, ready out
	ListenerFD = 4 // listening exec socket
	ExeFD      = 5 // the paddock binary the init was started from
	SyncFD     = 6 // with ReexecEnv: closed by the supervisor once the id maps are written
)

// ReexecEnv tells the init that it was started before its id maps existed (they are written by
// newuidmap): it waits for them, then re-executes itself to get root's capabilities inside.
const ReexecEnv = "PADDOCK_INIT_REEXEC"
