package session

import "bytes"

// Plain is terminal output as text: escape sequences (CSI, OSC, and the rest) and control
// characters other than newline and tab removed, carriage returns turned into line ends where a
// line is redrawn. For readers that are not terminals (an MCP client).
func Plain(b []byte) string {
	var out bytes.Buffer
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == 0x1b && i+1 < len(b):
			i++
			switch b[i] {
			case '[': // CSI: parameters, then a final byte 0x40-0x7e
				for i+1 < len(b) && (b[i+1] < 0x40 || b[i+1] > 0x7e) {
					i++
				}
				i++
			case ']', 'P', '_', '^': // OSC, DCS, APC, PM: up to BEL or ESC \
				for i+1 < len(b) && b[i+1] != 0x07 && !(b[i+1] == 0x1b && i+2 < len(b) && b[i+2] == '\\') {
					i++
				}
				if i+1 < len(b) && b[i+1] == 0x07 {
					i++
				} else {
					i += 2
				}
			case '(', ')', '*', '+': // character set: one more byte
				i++
			}
		case c == '\r':
			if i+1 < len(b) && b[i+1] == '\n' {
				continue
			}
			out.WriteByte('\n')
		case c == '\n' || c == '\t' || c >= 0x20 && c != 0x7f:
			out.WriteByte(c)
		}
	}
	return out.String()
}
