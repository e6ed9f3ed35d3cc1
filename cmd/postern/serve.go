package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/postern/postern/internal/api"
	"github.com/postern/postern/internal/component"
	"github.com/postern/postern/internal/gateway"
	"github.com/postern/postern/internal/recording"
)

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var c common
	c.flags(fs)
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", "address of the REST API and web console")
	sshAddr := fs.String("ssh-addr", "127.0.0.1:2222", "address of the SSH gateway")
	adminPassword := fs.String("admin-password", "", "password of the first administrator on an empty store (default: random, printed once)")
	trustProxy := fs.Bool("trust-proxy", false, "take client addresses from X-Forwarded-For (only behind a proxy you run)")
	rate := fs.Float64("rate-limit", 50, "sustained API requests per second per user (bursts of 4x allowed)")
	ipRate := fs.Float64("ip-rate-limit", 100, "sustained API requests per second per client address")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	idle := fs.Duration("idle-timeout", 30*time.Minute, "end an SSH session after this long without operator input (output does not count); 0 never")
	maxSession := fs.Duration("max-session", 0, "end an SSH session after this long in all; 0 never")
	share := fs.Bool("share-target-connections", true, "let an operator's sessions to one target as one system user share one SSH connection to it (the target logs one login for them)")
	recMax := fs.Int64("recording-max-bytes", 0, "cap on one session recording's size; 0 none")
	diagAddr := fs.String("diag-addr", "", "serve Go's profiler (/debug/pprof/) on this address, for diagnosing CPU and memory use; off by default, keep it on loopback")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	keepHeapFloor()
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	k, err := open(ctx, c)
	if err != nil {
		return err
	}
	defer k.Close()

	pw, err := k.identity.Bootstrap(ctx, *adminPassword)
	if err != nil {
		return fmt.Errorf("create first administrator: %w", err)
	}
	if pw != "" {
		if *adminPassword != "" {
			log.Info("created administrator 'admin' with the password from POSTERN_ADMIN_PASSWORD")
		} else {
			// Printed once, on the very first start, so the operator can log in.
			log.Warn("created administrator 'admin'; change this password after logging in", "password", pw)
		}
	}

	hub := component.NewHub()
	srv := api.New(k.db, k.identity, k.inventory, k.access, api.Config{
		Version: version, Logger: log, TrustProxy: *trustProxy, Sessions: hub, RecordingsDir: filepath.Join(c.dataDir, "recordings"), CommandFilters: k.filters,
		RatePerUser: *rate, BurstPerUser: int(4 * *rate), RatePerIP: *ipRate, BurstPerIP: int(4 * *ipRate),
	})
	if n, err := k.db.CloseOpenSessions(ctx, time.Now(), "postern stopped while the session was open"); err != nil {
		return err
	} else if n > 0 {
		log.Warn("closed sessions left open by the previous run", "sessions", n)
	}
	recDir := filepath.Join(c.dataDir, "recordings")
	if err := recoverRecordings(recDir, log); err != nil {
		return err
	}
	hostKeys, err := gateway.LoadHostKeys(c.dataDir)
	if err != nil {
		return err
	}
	gw := gateway.New(component.NewLocal(k.db, k.identity, k.inventory, k.access, k.filters, hub), gateway.Config{HostKeys: hostKeys, Logger: log, RecordingsDir: recDir,
		IdleTimeout: *idle, MaxDuration: *maxSession, RecordingMax: *recMax, SeparateTargetConnections: !*share})
	hub.AddWatcher(gw)
	go handBackAfterSessions(ctx, gw.Live)
	sshLn, err := net.Listen("tcp", *sshAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *sshAddr, err)
	}
	go func() {
		if err := gw.Serve(sshLn); err != nil {
			log.Error("ssh gateway stopped", "err", err)
		}
	}()
	defer gw.Close()

	if *diagAddr != "" {
		stopDiag, err := serveDiagnostics(*diagAddr, log)
		if err != nil {
			return err
		}
		defer stopDiag()
	}

	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *httpAddr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("postern ready", "version", version, "http", "http://"+ln.Addr().String(), "ssh", sshLn.Addr().String(), "data", c.dataDir)

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// recoverRecordings finishes the recordings a crash left uncompressed, so
// every one of them replays.
func recoverRecordings(dir string, log *slog.Logger) error {
	ids, err := recording.Pending(dir)
	if err != nil {
		return fmt.Errorf("recordings: %w", err)
	}
	for _, id := range ids {
		if err := recording.Recover(dir, id); err != nil {
			log.Error("cannot recover a recording left by a crash", "session", id, "err", err)
			continue
		}
		log.Warn("recovered the recording of a session cut off by a crash", "session", id)
	}
	return nil
}
