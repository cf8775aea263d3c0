// Command standin runs one model API stand-in (internal/agenttest) on loopback, for benchmarks
// and manual tries: it prints the base URL to point the agent at, then logs one line per request
// on stderr until killed.
//
//	go run ./internal/agenttest/standin -api anthropic -reply 'PADDOCK-OK'
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/paddockhq/paddock/internal/agenttest"
)

func main() {
	api := flag.String("api", "anthropic", "anthropic, openai or gemini")
	reply := flag.String("reply", "PADDOCK-STAND-IN-REPLY", "the fixed reply")
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	flag.Parse()
	s, err := agenttest.Start(agenttest.API(*api), *reply, *addr, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standin:", err)
		os.Exit(1)
	}
	fmt.Println(s.URL)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	seen := 0
	for {
		select {
		case <-sig:
			s.Close()
			return
		case <-time.After(100 * time.Millisecond):
		}
		reqs := s.Requests()
		for _, r := range reqs[seen:] {
			fmt.Fprintf(os.Stderr, "%s %s %s key=%q\n", r.Time.Format("15:04:05.000"), r.Method, r.Path, r.Key(s.API))
		}
		seen = len(reqs)
	}
}
