package agent

func init() { register(shell{}) }

// shell is a login shell: bash where the template has it, else sh.
type shell struct{}

func (shell) Name() string { return "shell" }

// Info: the shell comes with the template, keeps nothing in a volume and gets no keys.
func (shell) Info() Info { return Info{} }

func (shell) Command(args []string, has func(string) bool) []string {
	sh := "/bin/sh"
	if has("/bin/bash") {
		sh = "/bin/bash"
	}
	return append([]string{sh, "-l"}, args...)
}
