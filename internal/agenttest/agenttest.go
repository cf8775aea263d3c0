// Package agenttest holds stand-ins for the model APIs the agents speak (the Anthropic Messages
// API, the OpenAI Responses API Codex uses, the Gemini API), for tests and benchmarks on
// loopback. Each answers every model request with one fixed reply, streamed the way the real
// service streams it, and records every request (method, path, headers, body) so that a test can
// assert which key arrived.
package agenttest

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// API names a service the stand-in speaks.
type API string

const (
	Anthropic API = "anthropic"
	OpenAI    API = "openai"
	Gemini    API = "gemini"
)

// Request is one request the stand-in received.
type Request struct {
	Method string
	Path   string // with the query
	Header http.Header
	Body   []byte
	Time   time.Time
}

// Key is the API key the request carried, where the API puts it.
func (r Request) Key(api API) string {
	switch api {
	case Anthropic:
		if k := r.Header.Get("X-Api-Key"); k != "" {
			return k
		}
	case Gemini:
		if k := r.Header.Get("X-Goog-Api-Key"); k != "" {
			return k
		}
		if i := strings.Index(r.Path, "key="); i >= 0 {
			k, _, _ := strings.Cut(r.Path[i+4:], "&")
			return k
		}
	}
	if k, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return k
	}
	return ""
}

// Server is one running stand-in.
type Server struct {
	API   API
	Reply string
	// Delay holds every model reply that long (set before the agent runs): time for a test to
	// look at the agent's processes while it waits.
	Delay time.Duration
	// URL is the base URL to point the agent at: http(s)://127.0.0.1:PORT, plus /v1 for OpenAI
	// (OPENAI_BASE_URL includes it).
	URL string

	ln  net.Listener
	srv *http.Server

	mu   sync.Mutex
	reqs []Request
}

// Start serves a stand-in for api on a new loopback port (addr "" picks one) that answers with
// reply. With cert set it serves HTTPS.
func Start(api API, reply, addr string, cert *tls.Certificate) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("stand-in for %s: %w", api, err)
	}
	s := &Server{API: api, Reply: reply, ln: ln}
	scheme := "http"
	if cert != nil {
		scheme = "https"
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: []string{"http/1.1"}})
	}
	s.URL = scheme + "://" + s.ln.Addr().String()
	if api == OpenAI {
		s.URL += "/v1"
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Addr is the host:port the stand-in listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the stand-in.
func (s *Server) Close() error { return s.srv.Close() }

// Requests returns what the stand-in received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// ModelRequests are the requests that asked a model for a reply.
func (s *Server) ModelRequests() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if isModelCall(s.API, r.Method, r.Path) {
			out = append(out, r)
		}
	}
	return out
}

// Keys lists the distinct API keys the model requests carried, in order of arrival.
func (s *Server) Keys() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range s.ModelRequests() {
		if k := r.Key(s.API); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// Summary is one line per request received, for test failure messages.
func (s *Server) Summary() string {
	var b strings.Builder
	for _, r := range s.Requests() {
		fmt.Fprintf(&b, "%s %s key=%q ua=%q\n", r.Method, r.Path, mask(r.Key(s.API)), r.Header.Get("User-Agent"))
	}
	return b.String()
}

func mask(k string) string {
	if len(k) > 12 {
		return k[:12] + "…"
	}
	return k
}

func isModelCall(api API, method, path string) bool {
	p, _, _ := strings.Cut(path, "?")
	switch api {
	case Anthropic:
		return p == "/v1/messages"
	case OpenAI:
		return strings.HasSuffix(p, "/responses") || strings.HasSuffix(p, "/chat/completions")
	case Gemini:
		return strings.HasSuffix(p, ":streamGenerateContent") || strings.HasSuffix(p, ":generateContent")
	}
	return false
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body, Time: time.Now()})
	s.mu.Unlock()
	if s.Delay > 0 && isModelCall(s.API, r.Method, r.URL.RequestURI()) {
		time.Sleep(s.Delay)
	}
	switch s.API {
	case Anthropic:
		s.anthropic(w, r, body)
	case OpenAI:
		s.openai(w, r, body)
	case Gemini:
		s.gemini(w, r, body)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// sse writes server-sent events, flushing each: name "" writes a data line only.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func newSSE(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &sse{w: w, f: f}
}

func (e *sse) event(name string, v any) {
	b, _ := json.Marshal(v)
	if name != "" {
		fmt.Fprintf(e.w, "event: %s\n", name)
	}
	fmt.Fprintf(e.w, "data: %s\n\n", b)
	if e.f != nil {
		e.f.Flush()
	}
}

// chunks splits the reply into a few pieces, streamed as separate deltas.
func chunks(s string) []string {
	words := strings.SplitAfter(s, " ")
	if len(words) < 2 {
		return []string{s}
	}
	mid := len(words) / 2
	return []string{strings.Join(words[:mid], ""), strings.Join(words[mid:], "")}
}

// ---- Anthropic Messages API ----

func (s *Server) anthropic(w http.ResponseWriter, r *http.Request, body []byte) {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodHead || (r.Method == http.MethodGet && p == "/"):
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPost && p == "/v1/messages":
		var req struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		json.Unmarshal(body, &req)
		if req.Model == "" {
			req.Model = "claude-stand-in"
		}
		msg := map[string]any{
			"id": "msg_standin", "type": "message", "role": "assistant", "model": req.Model,
			"content": []any{}, "stop_reason": nil, "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": 12, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
		}
		if !req.Stream {
			msg["content"] = []any{map[string]any{"type": "text", "text": s.Reply}}
			msg["stop_reason"] = "end_turn"
			writeJSON(w, http.StatusOK, msg)
			return
		}
		e := newSSE(w)
		e.event("message_start", map[string]any{"type": "message_start", "message": msg})
		e.event("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "text", "text": ""}})
		e.event("ping", map[string]any{"type": "ping"})
		for _, c := range chunks(s.Reply) {
			e.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
				"delta": map[string]any{"type": "text_delta", "text": c}})
		}
		e.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
		e.event("message_delta", map[string]any{"type": "message_delta",
			"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
			"usage": map[string]any{"output_tokens": len(strings.Fields(s.Reply))}})
		e.event("message_stop", map[string]any{"type": "message_stop"})
	case r.Method == http.MethodPost && p == "/v1/messages/count_tokens":
		writeJSON(w, http.StatusOK, map[string]any{"input_tokens": 12})
	case r.Method == http.MethodGet && p == "/v1/models":
		writeJSON(w, http.StatusOK, map[string]any{"data": []any{map[string]any{
			"type": "model", "id": "claude-stand-in", "display_name": "Stand-in", "created_at": "2025-01-01T00:00:00Z"}},
			"has_more": false, "first_id": "claude-stand-in", "last_id": "claude-stand-in"})
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"type": "error",
			"error": map[string]any{"type": "not_found_error", "message": "the stand-in does not serve " + p}})
	}
}

// ---- OpenAI Responses API (Codex) ----

func (s *Server) openai(w http.ResponseWriter, r *http.Request, body []byte) {
	p := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case strings.HasSuffix(p, "/responses") && isWebSocket(r):
		s.responsesWebSocket(w, r)
	case strings.HasSuffix(p, "/responses") && r.Method == http.MethodPost:
		var req struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		json.Unmarshal(body, &req)
		events := s.responseEvents(req.Model)
		if !req.Stream {
			writeJSON(w, http.StatusOK, events[len(events)-1]["response"])
			return
		}
		e := newSSE(w)
		for _, ev := range events {
			e.event(ev["type"].(string), ev)
		}
	case strings.HasSuffix(p, "/models") && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{
			map[string]any{"id": "gpt-stand-in", "object": "model", "created": 1735689600, "owned_by": "paddock"}}})
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{
			"message": "the stand-in does not serve " + p, "type": "invalid_request_error", "code": "not_found"}})
	}
}

// responseEvents is a streamed Responses API answer, each event as the real service sends it.
func (s *Server) responseEvents(model string) []map[string]any {
	if model == "" {
		model = "gpt-stand-in"
	}
	text := map[string]any{"type": "output_text", "text": s.Reply, "annotations": []any{}}
	item := func(status string, content []any) map[string]any {
		return map[string]any{"id": "msg_standin", "type": "message", "role": "assistant", "status": status, "content": content}
	}
	resp := func(status string, output []any) map[string]any {
		r := map[string]any{"id": "resp_standin", "object": "response", "created_at": time.Now().Unix(),
			"status": status, "model": model, "output": output}
		if status == "completed" {
			r["usage"] = map[string]any{"input_tokens": 12, "input_tokens_details": map[string]any{"cached_tokens": 0},
				"output_tokens": 5, "output_tokens_details": map[string]any{"reasoning_tokens": 0}, "total_tokens": 17}
		}
		return r
	}
	ev := []map[string]any{
		{"type": "response.created", "response": resp("in_progress", []any{})},
		{"type": "response.in_progress", "response": resp("in_progress", []any{})},
		{"type": "response.output_item.added", "output_index": 0, "item": item("in_progress", []any{})},
		{"type": "response.content_part.added", "item_id": "msg_standin", "output_index": 0, "content_index": 0,
			"part": map[string]any{"type": "output_text", "text": "", "annotations": []any{}}},
	}
	for _, c := range chunks(s.Reply) {
		ev = append(ev, map[string]any{"type": "response.output_text.delta", "item_id": "msg_standin",
			"output_index": 0, "content_index": 0, "delta": c})
	}
	done := item("completed", []any{text})
	ev = append(ev,
		map[string]any{"type": "response.output_text.done", "item_id": "msg_standin", "output_index": 0, "content_index": 0, "text": s.Reply},
		map[string]any{"type": "response.content_part.done", "item_id": "msg_standin", "output_index": 0, "content_index": 0, "part": text},
		map[string]any{"type": "response.output_item.done", "output_index": 0, "item": done},
		map[string]any{"type": "response.completed", "response": resp("completed", []any{done})},
	)
	for i, e := range ev {
		e["sequence_number"] = i
	}
	return ev
}

// ---- Gemini API ----

func (s *Server) gemini(w http.ResponseWriter, r *http.Request, body []byte) {
	p := r.URL.Path
	_, method, _ := strings.Cut(p, ":")
	answer := map[string]any{
		"candidates": []any{map[string]any{
			"content":      map[string]any{"role": "model", "parts": []any{map[string]any{"text": s.Reply}}},
			"finishReason": "STOP", "index": 0}},
		"usageMetadata": map[string]any{"promptTokenCount": 12, "candidatesTokenCount": 5, "totalTokenCount": 17},
		"modelVersion":  "gemini-stand-in",
		"responseId":    "standin",
	}
	switch {
	case r.Method == http.MethodPost && method == "streamGenerateContent":
		e := newSSE(w)
		parts := chunks(s.Reply)
		for i, c := range parts {
			cand := map[string]any{"content": map[string]any{"role": "model", "parts": []any{map[string]any{"text": c}}}, "index": 0}
			chunk := map[string]any{"candidates": []any{cand}, "modelVersion": "gemini-stand-in", "responseId": "standin"}
			if i == len(parts)-1 {
				cand["finishReason"] = "STOP"
				chunk["usageMetadata"] = answer["usageMetadata"]
			}
			e.event("", chunk)
		}
	case r.Method == http.MethodPost && method == "generateContent":
		// Gemini CLI asks side questions (which model to route to, who speaks next) with a JSON
		// schema and fails the turn when the answer does not parse: give a conforming object.
		var req struct {
			GenerationConfig struct {
				MimeType   string          `json:"responseMimeType"`
				Schema     json.RawMessage `json:"responseSchema"`
				JSONSchema json.RawMessage `json:"responseJsonSchema"`
			} `json:"generationConfig"`
		}
		json.Unmarshal(body, &req)
		if gc := req.GenerationConfig; gc.MimeType == "application/json" {
			schema := gc.JSONSchema
			if len(schema) == 0 {
				schema = gc.Schema
			}
			var sch map[string]any
			json.Unmarshal(schema, &sch)
			b, _ := json.Marshal(fillSchema(sch, s.Reply))
			answer["candidates"].([]any)[0].(map[string]any)["content"] = map[string]any{"role": "model", "parts": []any{map[string]any{"text": string(b)}}}
		}
		writeJSON(w, http.StatusOK, answer)
	case r.Method == http.MethodPost && method == "countTokens":
		writeJSON(w, http.StatusOK, map[string]any{"totalTokens": 12})
	case r.Method == http.MethodPost && method == "embedContent":
		writeJSON(w, http.StatusOK, map[string]any{"embedding": map[string]any{"values": []float64{0.1, 0.2, 0.3}}})
	case r.Method == http.MethodGet && strings.HasSuffix(p, "/models"):
		writeJSON(w, http.StatusOK, map[string]any{"models": []any{map[string]any{"name": "models/gemini-stand-in"}}})
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{
			"code": 404, "message": "the stand-in does not serve " + p, "status": "NOT_FOUND"}})
	}
}

// fillSchema makes a value that conforms to a (Gemini or JSON) schema: strings are the reply
// (or an enum's "user" or first value), numbers their minimum or 1, objects every property.
func fillSchema(sch map[string]any, reply string) any {
	if enum, ok := sch["enum"].([]any); ok && len(enum) > 0 {
		for _, v := range enum {
			if v == "user" {
				return v
			}
		}
		return enum[0]
	}
	t, _ := sch["type"].(string)
	switch strings.ToLower(t) {
	case "object", "":
		out := map[string]any{}
		props, _ := sch["properties"].(map[string]any)
		for k, v := range props {
			sub, _ := v.(map[string]any)
			out[k] = fillSchema(sub, reply)
		}
		return out
	case "array":
		return []any{}
	case "integer", "number":
		if m, ok := sch["minimum"].(float64); ok {
			return m
		}
		return 1
	case "boolean":
		return false
	case "null":
		return nil
	}
	return reply
}
