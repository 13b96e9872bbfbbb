package handler

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// cpuTime returns the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkImmutable measures what Fiber's Immutable setting (every string and byte slice
// from fiber.Ctx copied) costs per request, against the zero-copy default, on a handler that
// reads what huzhu's API handlers read: method, path, a route parameter, the Authorization
// header, a query value, the client IP and a small JSON body.
//
//	go test -run '^$' -bench Immutable -benchmem -count 5 ./handler/
func BenchmarkImmutable(b *testing.B) {
	body := []byte(`{"bills":[{"claim_type":"门诊","date":"2025-05-07","self_pay1_yuan":"356.20"},` +
		`{"claim_type":"普通住院","date":"2025-04-10","self_pay1_fen":1250000}]}`)
	for _, immutable := range []bool{false, true} {
		name := "zero-copy"
		if immutable {
			name = "immutable"
		}
		b.Run(name, func(b *testing.B) {
			app := fiber.New(fiber.Config{Immutable: immutable, DisableStartupMessage: true})
			var sink int
			app.Post("/api/v1/payouts/:id/estimate", func(c *fiber.Ctx) error {
				var req struct {
					Bills []map[string]any `json:"bills"`
				}
				if err := json.Unmarshal(c.Body(), &req); err != nil {
					return err
				}
				sink += len(c.Method()) + len(c.Path()) + len(c.Params("id")) + len(c.Get(fiber.HeaderAuthorization)) +
					len(c.Query("year")) + len(c.IP()) + len(req.Bills)
				return c.SendStatus(fiber.StatusNoContent)
			})
			h := app.Handler()
			auth := "Bearer v1." + strings.Repeat("x", 120)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for b.Loop() {
				var ctx fasthttp.RequestCtx
				ctx.Request.Header.SetMethod(fiber.MethodPost)
				ctx.Request.SetRequestURI("/api/v1/payouts/12345/estimate?year=2025")
				ctx.Request.Header.Set(fiber.HeaderAuthorization, auth)
				ctx.Request.Header.SetContentType(fiber.MIMEApplicationJSON)
				ctx.Request.SetBody(body)
				h(&ctx)
				if ctx.Response.StatusCode() != fiber.StatusNoContent {
					b.Fatalf("status %d", ctx.Response.StatusCode())
				}
			}
			// CPU time of the process, not wall time: on a shared machine the wall time of
			// a loop includes whatever else ran on its core.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			_ = sink
		})
	}
}
