package agenttest

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// Codex opens the Responses API as a WebSocket first (GET /v1/responses with Upgrade), sends
// {"type":"response.create", ...} text frames and reads each streamed event as a text frame;
// only when that fails does it fall back to POST with server-sent events. The stand-in speaks
// both, so the agent takes its usual path. This is the small part of RFC 6455 that needs: text
// frames, close and ping, no extensions.

func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func (s *Server) responsesWebSocket(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	hj, ok := w.(http.Hijacker)
	if key == "" || !ok {
		http.Error(w, "bad websocket request", http.StatusBadRequest)
		return
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	sum := sha1.Sum([]byte(key + wsGUID))
	rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n")
	if rw.Flush() != nil {
		return
	}
	for {
		op, msg, err := readFrame(rw.Reader)
		if err != nil {
			return
		}
		switch op {
		case 0x8: // close
			writeFrame(rw.Writer, 0x8, msg)
			rw.Flush()
			return
		case 0x9: // ping
			writeFrame(rw.Writer, 0xA, msg)
			rw.Flush()
		case 0x1, 0x2:
			var req struct {
				Type  string `json:"type"`
				Model string `json:"model"`
			}
			json.Unmarshal(msg, &req)
			if req.Type != "response.create" {
				continue
			}
			for _, ev := range s.responseEvents(req.Model) {
				b, _ := json.Marshal(ev)
				writeFrame(rw.Writer, 0x1, b)
			}
			if rw.Flush() != nil {
				return
			}
		}
	}
}

// readFrame reads one whole message (joining continuation frames) from a client.
func readFrame(r *bufio.Reader) (op byte, payload []byte, err error) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return 0, nil, err
		}
		fin, opcode := h[0]&0x80 != 0, h[0]&0x0f
		if h[0]&0x70 != 0 {
			return 0, nil, errors.New("websocket: extension bits set")
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return 0, nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return 0, nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if n > 64<<20 {
			return 0, nil, errors.New("websocket: frame too large")
		}
		var mask [4]byte
		masked := h[1]&0x80 != 0
		if masked {
			if _, err := io.ReadFull(r, mask[:]); err != nil {
				return 0, nil, err
			}
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return 0, nil, err
		}
		if masked {
			for i := range buf {
				buf[i] ^= mask[i%4]
			}
		}
		if opcode >= 0x8 { // control frames come whole, also between fragments
			return opcode, buf, nil
		}
		if opcode != 0 {
			op = opcode
		}
		payload = append(payload, buf...)
		if fin {
			return op, payload, nil
		}
	}
}

// writeFrame writes one unmasked, unfragmented server frame.
func writeFrame(w *bufio.Writer, op byte, payload []byte) error {
	w.WriteByte(0x80 | op)
	switch n := len(payload); {
	case n < 126:
		w.WriteByte(byte(n))
	case n < 1<<16:
		w.WriteByte(126)
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], uint16(n))
		w.Write(b[:])
	default:
		w.WriteByte(127)
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(n))
		w.Write(b[:])
	}
	_, err := w.Write(payload)
	return err
}
