package handler

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"

	"huzhu/service/errs"
)

// Options configures the application.
type Options struct {
	BodyLimit int // bytes; uploads use their own larger limit through UploadLimit
	// UploadLimit bounds a multipart body sent to the console (/admin/: rosters, 医保 and bank
	// files); APIUploadLimit one sent to the mini-program API (/api/: claim documents; zero:
	// BodyLimit). Every other body is held to BodyLimit. The limit is chosen from the request's
	// header, before fasthttp reads the body into memory.
	UploadLimit    int
	APIUploadLimit int
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration
	TrustedProxies []string
	Log            *slog.Logger
	Registry       *prometheus.Registry // nil: no /metrics
	// Ready checks the stores for /readyz; each returns nil when healthy.
	Ready map[string]func(context.Context) error
	// Version is shown by /healthz.
	Version string
	// HSTS sends Strict-Transport-Security on every response; set it only when the public URL
	// is https, since browsers then refuse plain http to the host for a year.
	HSTS bool
}

// New returns the Fiber app with middleware, error mapping and health routes installed.
func New(o Options) *fiber.App {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	limit := o.BodyLimit
	if o.UploadLimit > limit {
		// Fiber has one global limit, the largest; bodyLimits gives each request its own from
		// its header, before the body is read.
		limit = o.UploadLimit
	}
	headers := securityHeaders(o.HSTS)
	errorHandler := ErrorHandler(o.Log)
	app := fiber.New(fiber.Config{
		AppName: "huzhu",
		// Every string and byte slice a handler gets from fiber.Ctx (Method, Path, Params, Query,
		// Get, Cookies, FormValue, IP behind a proxy, Body) is a copy, not a view of fasthttp's
		// buffer that the next request on the connection overwrites. Metric labels, kv and
		// cache keys, audit rows and values handed to goroutines keep such strings past the
		// request; copying every one at the boundary by hand failed (issue 13: a "GETT" label
		// broke /metrics for good). Its cost (BenchmarkImmutable) is in the README.
		Immutable:    true,
		BodyLimit:    limit,
		ReadTimeout:  o.ReadTimeout,
		WriteTimeout: o.WriteTimeout,
		// Errors fasthttp answers before any middleware runs (a malformed request, a body over
		// the limit) get the security headers too.
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			headers(c)
			return errorHandler(c, err)
		},
		DisableStartupMessage:   true,
		EnableTrustedProxyCheck: len(o.TrustedProxies) > 0,
		TrustedProxies:          o.TrustedProxies,
		ProxyHeader:             proxyHeader(o.TrustedProxies),
		StreamRequestBody:       false,
		// fasthttp would otherwise parse a multipart body while reading it and write any file
		// over 16 MB to a plaintext temporary file; rosters and 医保 files carry ID numbers. The
		// body is in memory anyway (within the upload limit), and parsed from there it stays.
		DisablePreParseMultipartForm: true,
	})
	if o.BodyLimit > 0 {
		app.Server().HeaderReceived = bodyLimits(o.BodyLimit, o.UploadLimit, o.APIUploadLimit)
	}
	app.Use(func(c *fiber.Ctx) error {
		// Set after the handler: a handler or the static file server may reset the headers.
		err := c.Next()
		headers(c)
		return err
	})
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e interface{}) {
		o.Log.Error("panic", "path", c.Route().Path, "panic", e, "request_id", RequestID(c))
	}}))
	app.Use(requestid.New(requestid.Config{Header: fiber.HeaderXRequestID, ContextKey: "request_id"}))
	m := newMetrics(o.Registry)
	app.Use(accessLog(o.Log, m))

	app.Get("/healthz", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok", "version": o.Version})
	})
	app.Get("/readyz", func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		checks := fiber.Map{}
		ok := true
		for name, check := range o.Ready {
			if err := check(ctx); err != nil {
				o.Log.Warn("not ready", "check", name, "err", err)
				checks[name] = "unavailable"
				ok = false
				continue
			}
			checks[name] = "ok"
		}
		if !ok {
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "checks": checks})
		}
		return c.JSON(fiber.Map{"status": "ok", "checks": checks})
	})
	if o.Registry != nil {
		app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{})))
	}
	return app
}

func proxyHeader(trusted []string) string {
	if len(trusted) > 0 {
		return fiber.HeaderXForwardedFor
	}
	return ""
}

// RequestID returns the request's id, as logged and as sent back in errors.
func RequestID(c *fiber.Ctx) string {
	if v, ok := c.Locals("request_id").(string); ok {
		return v
	}
	return ""
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "huzhu_http_requests_total", Help: "HTTP requests by route and status."},
			[]string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "huzhu_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"method", "route"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration)
	}
	return m
}

// accessLog logs one line per request: the route pattern, never the path's values or the query
// (they may carry ids and WeChat tokens).
func accessLog(log *slog.Logger, m *metrics) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		if err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		status := c.Response().StatusCode()
		route := c.Route().Path
		if status == fiber.StatusNotFound && route == "/" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		method := methodLabel(c.Method())
		m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(method, route).Observe(elapsed.Seconds())
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		log.Log(c.UserContext(), level, "http", "method", c.Method(), "route", route, "status", status,
			"ms", float64(elapsed.Microseconds())/1000, "request_id", RequestID(c))
		return nil
	}
}

// methodLabel returns the constant of a standard method and "OTHER" for anything else, so that
// a label never aliases a request buffer and a client cannot mint label values.
func methodLabel(m string) string {
	for _, known := range fiber.DefaultMethods {
		if m == known {
			return known
		}
	}
	return "OTHER"
}

// securityHeaders returns the function that sets the headers every response carries: nosniff
// (browsers must not guess an export or a JSON body is HTML), a Referrer-Policy that keeps paths
// and queries (member ids, ?next=) inside the site, and HSTS when the site is served over https.
func securityHeaders(hsts bool) func(c *fiber.Ctx) {
	return func(c *fiber.Ctx) {
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		c.Set(fiber.HeaderReferrerPolicy, "same-origin")
		if hsts {
			c.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000")
		}
	}
}

// errorBody is the one error shape of every JSON endpoint.
type errorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	Fix       string `json:"fix,omitempty"`
	RequestID string `json:"request_id"`
}

// Status returns the HTTP status of an error kind: the one table every front (JSON and the
// console's HTML pages) maps errors with. KindInternal and unknown kinds are 500.
func Status(k errs.Kind) int {
	switch k {
	case errs.KindInvalid:
		return fiber.StatusBadRequest
	case errs.KindNotFound:
		return fiber.StatusNotFound
	case errs.KindConflict:
		return fiber.StatusConflict
	case errs.KindUnauthenticated:
		return fiber.StatusUnauthorized
	case errs.KindForbidden:
		return fiber.StatusForbidden
	case errs.KindTooMany:
		return fiber.StatusTooManyRequests
	case errs.KindUnavailable:
		return fiber.StatusServiceUnavailable
	}
	return fiber.StatusInternalServerError
}

// RetryAfter sets the Retry-After header of a rate-limited (KindTooMany) or unavailable
// (KindUnavailable) error that says when to try again, in whole seconds rounded up. Every front
// that writes errors calls it.
func RetryAfter(c *fiber.Ctx, e *errs.Error) {
	if (e.Kind == errs.KindTooMany || e.Kind == errs.KindUnavailable) && e.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(e.RetryAfter.Seconds()+0.999)))
	}
}

// fiberErrors gives Fiber's own errors (no route, body too large…) plain Chinese.
var fiberErrors = map[int]errorBody{
	fiber.StatusNotFound:              {Code: "route.not_found", Message: "没有这个接口", Fix: "请检查请求地址"},
	fiber.StatusMethodNotAllowed:      {Code: "route.method_not_allowed", Message: "这个接口不支持该请求方式"},
	fiber.StatusRequestEntityTooLarge: {Code: "request.too_large", Message: "提交的内容太大了", Fix: "请缩小文件或分批提交"},
	fiber.StatusBadRequest:            {Code: "request.bad", Message: "请求格式不对", Fix: "请按接口文档提交"},
	fiber.StatusUnsupportedMediaType:  {Code: "request.media_type", Message: "不支持的内容类型", Fix: "请以 application/json 提交"},
	fiber.StatusRequestTimeout:        {Code: "request.timeout", Message: "请求超时，请重试"},
}

// ErrorHandler maps errors to statuses and the one JSON shape. *errs.Error keeps its code and
// message; Fiber's errors get Chinese text; anything else is logged and becomes a 500 that says
// only "系统繁忙，请稍后再试".
func ErrorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		body := errorBody{RequestID: RequestID(c)}
		status := fiber.StatusInternalServerError
		var (
			e  *errs.Error
			fe *fiber.Error
		)
		switch {
		case errors.As(err, &e) && e.Kind != errs.KindInternal:
			status = Status(e.Kind)
			body.Code, body.Message, body.Field, body.Fix = e.Code, e.Message, e.Field, e.Fix
			if e.Err != nil {
				log.Info("request refused", "code", e.Code, "cause", e.Err, "request_id", body.RequestID)
			}
		case errors.As(err, &fe) && fe.Code < 500:
			status = fe.Code
			b, ok := fiberErrors[fe.Code]
			if !ok {
				b = errorBody{Code: "request.refused", Message: "请求未被接受"}
			}
			body.Code, body.Message, body.Fix = b.Code, b.Message, b.Fix
		default:
			log.Error("internal error", "route", c.Route().Path, "err", err, "request_id", body.RequestID)
			body.Code, body.Message = "internal", "系统繁忙，请稍后再试"
		}
		if e != nil {
			RetryAfter(c, e)
		}
		return c.Status(status).JSON(body)
	}
}

// bodyLimits picks the body limit of a request from its header, before the body is read:
// Fiber's one BodyLimit is the largest upload, and fasthttp reads a whole body into memory
// before any handler runs, so without this anyone could make the process hold 200 MB per
// connection by posting to a JSON endpoint. A body declared larger than its limit is refused at
// once with 413 (request.too_large); one that turns out larger while being read is cut off there.
func bodyLimits(body, upload, apiUpload int) func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
	if apiUpload <= 0 {
		apiUpload = body
	}
	return func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		if !bytes.HasPrefix(h.ContentType(), []byte("multipart/form-data")) {
			return fasthttp.RequestConfig{MaxRequestBodySize: body}
		}
		switch path := h.RequestURI(); {
		case bytes.HasPrefix(path, []byte("/admin/")):
			return fasthttp.RequestConfig{MaxRequestBodySize: max(upload, body)}
		case bytes.HasPrefix(path, []byte("/api/")):
			return fasthttp.RequestConfig{MaxRequestBodySize: max(apiUpload, body)}
		}
		return fasthttp.RequestConfig{MaxRequestBodySize: body}
	}
}
