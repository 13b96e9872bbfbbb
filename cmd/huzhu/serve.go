package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"huzhu/handler"
	"huzhu/service/store"
)

func serveCmd(e *env) *cobra.Command {
	var demo bool
	var addr string
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--demo]",
		Short: "Run the HTTP service (mini-program API, WeChat callback, console, metrics)",
		Long: "Run the HTTP service. Every setting comes from the config file (-c, $HUZHU_CONFIG) and\n" +
			"HUZHU_<SECTION>_<KEY> environment variables; `huzhu config` prints the effective values.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.serve(cmd.Context(), demo)
		},
	}
	cmd.Flags().BoolVar(&demo, "demo", false, "fill an empty database with synthetic demo data first, and run in dev (HUZHU_ENV=dev)")
	cmd.Flags().StringVar(&addr, "addr", "", "listen address, e.g. 127.0.0.1:8081 (config http.addr, env HUZHU_HTTP_ADDR; default 127.0.0.1:8080)")
	_ = cmd.Flags().SetAnnotation("addr", envAnnotation, []string{"HUZHU_HTTP_ADDR"})
	return cmd
}

// serve builds the application, listens, and shuts down gracefully when ctx ends.
func (e *env) serve(ctx context.Context, demo bool) error {
	w := e.cfg.WeChat
	if demo && w.OA.AppID == "" && w.MP.AppID == "" {
		e.cfg.WeChat.Fake = true // the demo brings its own WeChat unless a real one is configured
	}
	if e.cfg.WeChat.Fake {
		f, err := e.startFakeWeChat()
		if err != nil {
			return err
		}
		defer f.Close()
	}
	db, err := e.openDB(ctx)
	if err != nil {
		return err
	}
	kvs, err := e.openKV(ctx)
	if err != nil {
		return err
	}
	if _, err := e.policyEngine(ctx); err != nil {
		return err
	}
	var accounts string // printed last, after where we listen, so that it does not scroll away
	if demo {
		if accounts, err = e.seedDemo(ctx); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	app := handler.New(handler.Options{
		BodyLimit:   e.cfg.HTTP.BodyLimitKB * 1024,
		UploadLimit: e.cfg.HTTP.UploadLimitMB << 20,
		// A claim document plus the multipart form around it.
		APIUploadLimit: (e.cfg.Claims.MaxDocMB + 1) << 20,
		ReadTimeout:    e.cfg.HTTP.ReadTimeout,
		WriteTimeout:   e.cfg.HTTP.WriteTimeout,
		TrustedProxies: e.cfg.HTTP.TrustedProxies,
		Log:            e.log,
		Registry:       reg,
		Version:        version,
		HSTS:           strings.HasPrefix(e.cfg.HTTP.PublicURL, "https://"),
		Ready: map[string]func(context.Context) error{
			"database": func(ctx context.Context) error { return store.Ping(ctx, db) },
			"kv":       kvs.Ping,
		},
	})
	if err := e.mount(ctx, app, reg); err != nil {
		return err
	}
	var self string // this server's base URL, set once it listens, before it serves
	if err := e.mountPreview(ctx, app, func() string { return self }); err != nil {
		return err
	}
	// Background work outlives the request context of shutdown: it is stopped after the HTTP
	// server has drained, so a notice queued by a last request is still picked up next start.
	bgCtx, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	var bg sync.WaitGroup
	if e.cfg.Notify.Enabled {
		d, err := e.dispatcher(ctx, reg)
		if err != nil {
			return err
		}
		bg.Go(func() {
			if err := d.Run(bgCtx); err != nil {
				e.log.Error("notice dispatcher stopped", "err", err)
			}
		})
	}

	ln, err := net.Listen("tcp", e.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on http.addr %s: %w", e.cfg.HTTP.Addr, err)
	}
	e.log.Info("huzhu listening", "addr", ln.Addr().String(), "env", e.cfg.Env, "database", dbKind(e), "kv", kvKind(e))
	if gaps := e.cal.Gaps(time.Now()); len(gaps) > 0 {
		e.log.Warn("the holiday calendar has no official days for these years: promised arrival dates skip weekends only",
			"years", gaps, "fix", "add the State Council's days as calendar.extra_days, or upgrade huzhu")
	}
	self = "http://" + reachable(ln.Addr().String())
	e.logWeChatOff()
	fmt.Fprintf(e.stdout, "huzhu is running at http://%s  (try /healthz, /api/v1/stats, /api/openapi.json and the console at /admin)\n", ln.Addr())
	if demo && e.fakeWX != nil {
		try, err := e.tryIt(ctx, ln.Addr().String())
		if err != nil {
			_ = ln.Close()
			return err
		}
		fmt.Fprint(e.stdout, try)
	}
	fmt.Fprint(e.stdout, accounts)

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
	stopBG()
	waitFor(&bg, 10*time.Second, e.log)
	return nil
}

// waitFor waits for background work to return, at most d; a dispatcher still sending after that
// leaves its rows leased, and any dispatcher picks them up after the lease.
func waitFor(wg *sync.WaitGroup, d time.Duration, log *slog.Logger) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		log.Warn("background work did not stop in time; its leases will expire", "wait", d.String())
	}
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
