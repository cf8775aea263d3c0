package agent

func init() { register(shell{}) }

// shell is a login shell: bash where the template has it, else sh.
type shell struct{}

func (shell) Name() string { return "shell" }

func (shell) Command(args []string, has func(string) bool) []string {
	sh := "/bin/sh"
	if has("/bin/bash") {
		sh = "/bin/bash"
	}
	return append([]string{sh, "-l"}, args...)
}
