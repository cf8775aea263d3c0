// Command porttool measures a published port for bench/ports.sh.
//
//	porttool serve PORT          listen on 127.0.0.1:PORT (in a sandbox, or on the host for the
//	                             direct figure); a connection sends 'b' and N for a stream of
//	                             4N MiB, or 'p' to get one byte back
//	porttool bulk ADDR MB REPS   MiB/s of an MB MiB download from ADDR, median of REPS
//	porttool conn ADDR N         ms per connection (connect, one byte there and back, close),
//	                             median of N
//	porttool relay PORT ADDR     listen on 127.0.0.1:PORT and relay each connection to ADDR, the
//	                             bytes spliced by the kernel (io.Copy between TCP connections):
//	                             the least any relay in a second process costs, no sandbox
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: porttool serve PORT | bulk ADDR MB REPS | conn ADDR N")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2])
	case "bulk":
		mb, _ := strconv.Atoi(os.Args[3])
		reps, _ := strconv.Atoi(os.Args[4])
		var r []float64
		for range reps {
			r = append(r, bulk(os.Args[2], mb))
		}
		fmt.Printf("%.0f\n", median(r))
	case "relay":
		relay(os.Args[2], os.Args[3])
	case "conn":
		n, _ := strconv.Atoi(os.Args[3])
		var r []float64
		for range n {
			r = append(r, conn(os.Args[2]))
		}
		fmt.Printf("%.3f\n", median(r))
	}
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

func serve(port string) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buf := make([]byte, 1<<20)
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer c.Close()
			cmd := make([]byte, 2)
			if _, err := io.ReadFull(c, cmd); err != nil {
				return
			}
			if cmd[0] == 'p' {
				c.Write([]byte{'p'})
				return
			}
			for range int(cmd[1]) * 4 { // 4 MiB per unit: up to 1020 MiB in one byte
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}()
	}
}

func bulk(addr string, mb int) float64 {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer c.Close()
	start := time.Now()
	c.Write([]byte{'b', byte(mb / 4)})
	n, _ := io.Copy(io.Discard, c)
	if n != int64(mb/4*4)<<20 {
		fmt.Fprintf(os.Stderr, "got %d bytes\n", n)
		os.Exit(1)
	}
	return float64(n) / (1 << 20) / time.Since(start).Seconds()
}

func conn(addr string) float64 {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c.Write([]byte{'p', 0})
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		fmt.Fprintln(os.Stderr, "ping:", err)
		os.Exit(1)
	}
	c.Close()
	return float64(time.Since(start).Microseconds()) / 1000
}

func relay(port, to string) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer c.Close()
			u, err := net.Dial("tcp", to)
			if err != nil {
				return
			}
			defer u.Close()
			done := make(chan struct{})
			go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite(); close(done) }()
			io.Copy(c, u)
			c.(*net.TCPConn).CloseWrite()
			<-done
		}()
	}
}
