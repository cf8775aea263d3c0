package egress

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// An agent's model API (a Service with an API format) that the proxy will not or cannot pass a
// request on to gets the proxy's own answer, in that API's error format, with paddock's reason as
// its message: the agent shows it as it shows the API's own errors. A refused tunnel or a bare
// 502 it takes for a network fault, and retries for minutes.
//
// The status is what decides whether the agent retries, and the four agents differ (measured with
// Claude Code 2.1.332, Codex 0.171, Gemini CLI 0.61, OpenCode 1.18; README, "When the API cannot
// be reached"):
//   - 401 and 403 Claude Code retries ten times with backoff (about three minutes) whatever
//     x-should-retry says, when its key comes from an apiKeyHelper, as paddock's does: a helper
//     may hand out a new key. Codex retries every status but 400. Every agent retries 5xx.
//   - 400 with x-should-retry: false all four take as final, and show the message at once.
//
// So an answer a retry cannot change is a 400 (apiFinal); an upstream that fails in a way that
// may pass by itself (a timeout, a DNS server that did not answer) is a 503 or 504 the agent may
// retry as it would retry the service itself.
const apiFinal = http.StatusBadRequest

// apiAnswer is the proxy's answer to one request for an agent's API.
type apiAnswer struct {
	status int
	kind   string // X-Paddock-Egress: "denied" (the policy), "unreachable" (the upstream), "no-key"
	msg    string
}

// final reports whether a retry cannot change the answer.
func (a apiAnswer) final() bool { return a.status == apiFinal }

// write sends the answer in svc's API format.
func (a apiAnswer) write(w http.ResponseWriter, svc Service) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Paddock-Egress", a.kind)
	w.Header().Set("Connection", "close") // one connection per answer: none is kept to a dead end
	if a.final() {
		w.Header().Set("X-Should-Retry", "false") // the Anthropic and OpenAI SDKs read it
	}
	w.WriteHeader(a.status)
	w.Write(apiErrorBody(svc.API, a))
}

// apiErrorBody is a's message as the error body of an API in format ("anthropic", "openai" or
// "google").
func apiErrorBody(format string, a apiAnswer) []byte {
	var v any
	switch format {
	case "anthropic":
		t := "permission_error"
		if a.kind == "unreachable" {
			t = "api_error"
		}
		v = map[string]any{"type": "error", "error": map[string]any{"type": t, "message": a.msg}}
	case "google":
		st := "PERMISSION_DENIED"
		switch {
		case a.kind == "unreachable" && a.final():
			st = "FAILED_PRECONDITION"
		case a.kind == "unreachable":
			st = "UNAVAILABLE"
		}
		v = map[string]any{"error": map[string]any{"code": a.status, "message": a.msg, "status": st}}
	default:
		t := "paddock_egress_denied"
		switch a.kind {
		case "unreachable":
			t = "paddock_upstream_unreachable"
		case "no-key":
			t = "paddock_no_key"
		}
		v = map[string]any{"error": map[string]any{"message": a.msg, "type": t, "code": t}}
	}
	b, _ := json.Marshal(v)
	return append(b, '\n')
}

// refusedAnswer is the answer to a connection the policy refuses, or whose name does not resolve
// although a rule allows it (d.Unresolved: the upstream cannot be found).
func refusedAnswer(hostport string, d Decision, denial string) apiAnswer {
	if !d.Unresolved {
		return apiAnswer{status: apiFinal, kind: "denied", msg: strings.TrimSpace(denial)}
	}
	if d.Temporary {
		return apiAnswer{status: http.StatusServiceUnavailable, kind: "unreachable",
			msg: "paddock: " + Printable(hostport) + " failed (" + Printable(d.Reason) + ")"}
	}
	return apiAnswer{status: apiFinal, kind: "unreachable",
		msg: "paddock: " + Printable(hostport) + " cannot be reached: its name does not resolve (the policy allows it)"}
}

// unreachableAnswer is the answer when the upstream of an allowed request fails: final, in
// paddock's own words, for a failure that does not pass by itself (the name does not exist,
// nothing accepts connections there, no route, a certificate that does not verify); 504 or 503
// with the error (msg, scrubbed of the key) otherwise.
//
// A final answer's text avoids what OpenCode reads as a passing fault in any error's message or
// body ("connection refused", "timeout", "unavailable", "503", ...): it retries those for more than
// a minute whatever the status says.
func unreachableAnswer(hostport string, err error, msg string) apiAnswer {
	at := ""
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Addr != nil {
		at = " at " + oe.Addr.String()
	}
	var why string
	var de *net.DNSError
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ne net.Error
	switch {
	case errors.As(err, &de) && de.IsNotFound:
		why = "its name does not resolve"
	case errors.Is(err, syscall.ECONNREFUSED):
		why = "nothing accepts connections" + at
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		why = "there is no route to it" + at
	case errors.As(err, &cv), errors.As(err, &ua), errors.As(err, &he):
		why = "its certificate does not verify" + at
	case errors.As(err, &ne) && ne.Timeout():
		return apiAnswer{status: http.StatusGatewayTimeout, kind: "unreachable",
			msg: "paddock: " + Printable(hostport) + " did not answer in time: " + Printable(msg)}
	default:
		return apiAnswer{status: http.StatusServiceUnavailable, kind: "unreachable",
			msg: "paddock: " + Printable(hostport) + " failed: " + Printable(msg)}
	}
	return apiAnswer{status: apiFinal, kind: "unreachable",
		msg: "paddock: " + Printable(hostport) + " cannot be reached: " + why + " (the policy allows it)"}
}

// noKeyAnswer is the answer to a request that carries the placeholder of a secret that is not
// stored: the service would refuse the placeholder (as an invalid key, which Claude Code retries
// for minutes), so it does not leave the proxy.
func noKeyAnswer(svc Service) apiAnswer {
	return apiAnswer{status: apiFinal, kind: "no-key",
		msg: "paddock: no " + svc.Secret + " key is stored: `paddock secret set " + svc.Secret +
			"` stores one (it never enters the sandbox), or sign in with the agent's own login"}
}

// carriesPlaceholder reports whether r holds the placeholder of svc's secret where svc reads its
// key.
func carriesPlaceholder(r *http.Request, svc Service) bool {
	ph := Placeholder(svc.Secret)
	name := svc.Header
	if name == "" {
		name = "authorization"
	}
	for _, h := range append([]string{name}, svc.Also...) {
		for _, v := range r.Header.Values(h) {
			if strings.Contains(v, ph) {
				return true
			}
		}
	}
	return svc.Query != "" && strings.Contains(r.URL.Query().Get(svc.Query), ph)
}
