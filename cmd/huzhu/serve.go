package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"huzhu/handler"
	"huzhu/service/store"
)

func serveCmd(e *env) *cobra.Command {
	var demo bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP service (mini-program API, WeChat callback, console, metrics)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.serve(cmd.Context(), demo)
		},
	}
	cmd.Flags().BoolVar(&demo, "demo", false, "fill an empty database with synthetic demo data first")
	return cmd
}

// serve builds the application, listens, and shuts down gracefully when ctx ends.
func (e *env) serve(ctx context.Context, demo bool) error {
	db, err := e.openDB(ctx)
	if err != nil {
		return err
	}
	kvs, err := e.openKV(ctx)
	if err != nil {
		return err
	}
	if demo {
		if err := e.seedDemo(ctx); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	app := handler.New(handler.Options{
		BodyLimit:      e.cfg.HTTP.BodyLimitKB * 1024,
		UploadLimit:    e.cfg.HTTP.UploadLimitMB << 20,
		ReadTimeout:    e.cfg.HTTP.ReadTimeout,
		WriteTimeout:   e.cfg.HTTP.WriteTimeout,
		TrustedProxies: e.cfg.HTTP.TrustedProxies,
		Log:            e.log,
		Registry:       reg,
		Version:        version,
		Ready: map[string]func(context.Context) error{
			"database": func(ctx context.Context) error { return store.Ping(ctx, db) },
			"kv":       kvs.Ping,
		},
	})
	if err := e.mount(ctx, app, reg); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", e.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on http.addr %s: %w", e.cfg.HTTP.Addr, err)
	}
	e.log.Info("huzhu listening", "addr", ln.Addr().String(), "env", e.cfg.Env, "database", dbKind(e), "kv", kvKind(e))
	fmt.Fprintf(e.stdout, "huzhu is running at http://%s  (health: /healthz, API docs: /api/openapi.json, console: /admin)\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- app.Listener(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	e.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), e.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := app.ShutdownWithContext(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	e.stopBackground(5 * time.Second)
	return nil
}

func dbKind(e *env) string {
	if e.cfg.Database.MySQLDSN != "" {
		return "mysql"
	}
	return "sqlite:" + e.cfg.Database.SQLitePath
}

func kvKind(e *env) string {
	if e.cfg.Redis.Addr != "" {
		return "redis"
	}
	return "in-process"
}

// mount adds the routes of every front: mini-program API, WeChat callback, console.
func (e *env) mount(ctx context.Context, app *fiber.App, reg *prometheus.Registry) error {
	return nil
}

// stopBackground waits up to d for background workers (notice dispatcher) to stop.
func (e *env) stopBackground(d time.Duration) {}

// seedDemo fills an empty database with demo data.
func (e *env) seedDemo(ctx context.Context) error {
	return nil
}
