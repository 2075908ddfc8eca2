// goserv — a Go server for the tests of publishing from outside: Go makes its own system calls, so
// LD_PRELOAD never sees its bind() or listen(). Standard library only.
//
//	goserv PORT [udp]   HTTP on PORT ("natt-go-ok" for every request); with udp, also a UDP echo
//	                    server on PORT+1. Prints "listening PORT" once it serves.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	port, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "goserv: bad port")
		os.Exit(2)
	}
	if len(os.Args) > 2 && os.Args[2] == "udp" {
		conn, err := net.ListenPacket("udp", ":"+strconv.Itoa(port+1))
		if err != nil {
			fmt.Fprintln(os.Stderr, "goserv:", err)
			os.Exit(1)
		}
		go func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := conn.ReadFrom(buf)
				if err != nil {
					return
				}
				conn.WriteTo(buf[:n], from)
			}
		}()
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "goserv:", err)
		os.Exit(1)
	}
	fmt.Println("listening", port)
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "natt-go-ok")
	}))
}
