package backend

import "strings"

// ImageEnv is an image's environment with what every sandbox process needs where the image sets
// none: a standard PATH and LANG=C.UTF-8. Backends start OCI-template processes from it.
func ImageEnv(imageEnv []string) []string {
	env := append([]string{}, imageEnv...)
	has := func(k string) bool {
		for _, kv := range env {
			if strings.HasPrefix(kv, k+"=") {
				return true
			}
		}
		return false
	}
	if !has("PATH") {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if !has("LANG") {
		env = append(env, "LANG=C.UTF-8")
	}
	return env
}

// GitEnv carries the host's git identity where the sandbox's home is not paddock's to write
// (an image's, a container's): git reads GIT_AUTHOR_* and GIT_COMMITTER_* before any config.
func GitEnv(s Spec) []string {
	var env []string
	if s.GitName != "" {
		env = append(env, "GIT_AUTHOR_NAME="+s.GitName, "GIT_COMMITTER_NAME="+s.GitName)
	}
	if s.GitEmail != "" {
		env = append(env, "GIT_AUTHOR_EMAIL="+s.GitEmail, "GIT_COMMITTER_EMAIL="+s.GitEmail)
	}
	return env
}
