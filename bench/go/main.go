// Command goserver is the Go program triserve re-creates, kept as a benchmark peer: three
// net/http servers (hello, hello-name, echo) shut down together, gracefully, on SIGINT or
// SIGTERM with one 5-second deadline. The original uses golang.org/x/sync/errgroup; this copy
// uses a sync.WaitGroup so that it builds offline with the standard library alone.
//
// With --tls-cert and --tls-key, all three serve TLS instead (ListenAndServeTLS, Go's default
// TLS settings, which offer h2 by ALPN), the TLS peer of the benchmark. With --h2c, the
// cleartext servers also speak HTTP/2 without TLS (golang.org/x/net/http2/h2c: the preface of
// prior knowledge, or Upgrade: h2c), the h2c peer. x/net comes from Debian's
// golang-golang-x-net-dev, built offline in GOPATH mode (bench/run.sh).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

func main() {
	helloAddr := flag.String("hello", ":7000", "address of the hello server")
	helloNameAddr := flag.String("hello-name", ":8000", "address of the hello-name server")
	echoAddr := flag.String("echo", ":9000", "address of the echo server")
	tlsCert := flag.String("tls-cert", "", "PEM certificate: with --tls-key, every server speaks TLS")
	tlsKey := flag.String("tls-key", "", "PEM private key of --tls-cert")
	withH2c := flag.Bool("h2c", false, "the cleartext servers also speak HTTP/2 (h2c), with x/net's defaults")
	flag.Parse()
	if (*tlsCert == "") != (*tlsKey == "") {
		log.Fatal("--tls-cert and --tls-key go together")
	}
	if *withH2c && *tlsCert != "" {
		log.Fatal("--h2c is for cleartext servers: over TLS, h2 is offered by ALPN anyway")
	}
	serve := func(s *http.Server) error { return s.ListenAndServe() }
	if *tlsCert != "" {
		serve = func(s *http.Server) error { return s.ListenAndServeTLS(*tlsCert, *tlsKey) }
	}

	servers := []*http.Server{
		{Addr: *helloAddr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "Hello, world!")
		})},
		{Addr: *helloNameAddr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "Hello, %s!", r.URL.Query().Get("name"))
		})},
		{Addr: *echoAddr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(w, r.Body)
		})},
	}

	if *withH2c {
		for _, s := range servers {
			s.Handler = h2c.NewHandler(s.Handler, &http2.Server{})
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The first server to fail cancels the group, like errgroup.WithContext.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		cancel()
	}

	for _, s := range servers {
		s := s
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serve(s); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(err)
			}
		}()
	}
	log.Printf("all servers are started")

	<-ctx.Done()
	log.Printf("shutting down")
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	for _, s := range servers {
		s := s
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(shutdownCtx); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		log.Printf("error: %v", firstErr)
		os.Exit(1)
	}
	log.Printf("everything closed successfully")
}
