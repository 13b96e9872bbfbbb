package handler

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"huzhu/service/errs"
)

func newTestApp(ready map[string]func(context.Context) error) *fiber.App {
	app := New(Options{BodyLimit: 64, UploadLimit: 1 << 20, Registry: prometheus.NewRegistry(), Ready: ready})
	app.Post("/invalid", func(c *fiber.Ctx) error {
		return errs.Invalid("amount", "金额不能为负数", "请填写大于0的金额")
	})
	app.Get("/boom", func(c *fiber.Ctx) error { return errors.New("db password=xyz exploded") })
	app.Get("/panic", func(c *fiber.Ctx) error { panic("bad") })
	app.Get("/limited", func(c *fiber.Ctx) error {
		return errs.TooMany("binding.too_many", "尝试次数太多", 90_500_000_000)
	})
	return app
}

func do(t *testing.T, app *fiber.App, method, path, body string) (int, map[string]any, *httptestResp) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, &httptestResp{header: resp.Header.Get, body: string(b)}
}

type httptestResp struct {
	header func(string) string
	body   string
}

func TestErrorMapping(t *testing.T) {
	app := newTestApp(nil)
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"service error keeps code and field", "POST", "/invalid", "{}", 400, "invalid.amount"},
		{"internal error hides cause", "GET", "/boom", "", 500, "internal"},
		{"panic becomes 500", "GET", "/panic", "", 500, "internal"},
		{"unknown route", "GET", "/nope", "", 404, "route.not_found"},
		{"rate limited", "GET", "/limited", "", 429, "binding.too_many"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, raw := do(t, app, tc.method, tc.path, tc.body)
			if status != tc.status || body["code"] != tc.code {
				t.Fatalf("%s %s = %d %v, want %d %s", tc.method, tc.path, status, body, tc.status, tc.code)
			}
			if body["request_id"] == "" || body["message"] == "" {
				t.Errorf("missing request_id or message: %v", body)
			}
			if strings.Contains(raw.body, "password") || strings.Contains(raw.body, "exploded") {
				t.Errorf("internal cause leaked: %s", raw.body)
			}
		})
	}
	_, body, _ := do(t, app, "POST", "/invalid", "{}")
	if body["field"] != "amount" || body["fix"] == "" {
		t.Errorf("field/fix missing: %v", body)
	}
	_, _, raw := do(t, app, "GET", "/limited", "")
	if raw.header("Retry-After") != "91" {
		t.Errorf("Retry-After = %q, want 91", raw.header("Retry-After"))
	}
}

func TestReadyz(t *testing.T) {
	ok := newTestApp(map[string]func(context.Context) error{"db": func(context.Context) error { return nil }})
	if status, _, _ := do(t, ok, "GET", "/readyz", ""); status != 200 {
		t.Errorf("healthy readyz = %d", status)
	}
	down := newTestApp(map[string]func(context.Context) error{"redis": func(context.Context) error { return errors.New("refused") }})
	status, body, _ := do(t, down, "GET", "/readyz", "")
	if status != 503 || body["checks"].(map[string]any)["redis"] != "unavailable" {
		t.Errorf("readyz with redis down = %d %v", status, body)
	}
	if status, _, raw := do(t, ok, "GET", "/metrics", ""); status != 200 || !strings.Contains(raw.body, "huzhu_http_requests_total") {
		t.Errorf("metrics = %d", status)
	}
}

// TestUploadsStayInMemory: an uploaded file over fasthttp's 16 MB in-memory threshold must not
// be spooled to a plaintext temporary file (rosters carry ID numbers); the body is in memory
// anyway, within the upload limit, and the importer seals what it keeps.
func TestUploadsStayInMemory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	app := New(Options{BodyLimit: 64, UploadLimit: 40 << 20, Registry: prometheus.NewRegistry()})
	var spooled []string
	var size int64
	app.Post("/admin/upload", func(c *fiber.Ctx) error {
		fh, err := c.FormFile("file")
		if err != nil {
			return err
		}
		size = fh.Size
		ents, _ := os.ReadDir(tmp)
		for _, e := range ents {
			spooled = append(spooled, e.Name())
		}
		return c.SendStatus(fiber.StatusNoContent)
	})
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("file", "roster.csv")
	line := []byte("张三,110101199003071234,6214830000001234\n")
	for body.Len() < 17<<20 {
		_, _ = part.Write(line)
	}
	_ = w.Close()
	want := int64(body.Len())
	req := httptest.NewRequest("POST", "/admin/upload", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != fiber.StatusNoContent || size < 16<<20 || size > want {
		t.Fatalf("upload = %d, file of %d bytes; want 204 and the whole file", resp.StatusCode, size)
	}
	if len(spooled) > 0 {
		t.Errorf("the upload was spooled to %v in the temporary folder, want it kept in memory", spooled)
	}
}

// TestSecurityHeaders: nosniff and Referrer-Policy on every response — success, every kind of
// error, a panic, an unknown route, a body fasthttp refuses before any handler runs, metrics —
// and HSTS exactly when the app is told the site is https.
func TestSecurityHeaders(t *testing.T) {
	for _, hsts := range []bool{false, true} {
		app := New(Options{BodyLimit: 64, UploadLimit: 1 << 20, Registry: prometheus.NewRegistry(), HSTS: hsts})
		app.Get("/ok", func(c *fiber.Ctx) error { return c.SendString("ok") })
		app.Get("/boom", func(c *fiber.Ctx) error { return errors.New("exploded") })
		app.Get("/panic", func(c *fiber.Ctx) error { panic("bad") })
		app.Get("/reset", func(c *fiber.Ctx) error {
			c.Response().Reset() // as a file server answering 404 does
			return c.SendString("reset")
		})
		app.Get("/limited", func(c *fiber.Ctx) error { return errs.TooMany("x.too_many", "太多了", 1e9) })
		tests := []struct {
			name, method, path, body string
			status                   int
		}{
			{"success", "GET", "/ok", "", 200},
			{"health", "GET", "/healthz", "", 200},
			{"metrics", "GET", "/metrics", "", 200},
			{"internal error", "GET", "/boom", "", 500},
			{"panic", "GET", "/panic", "", 500},
			{"handler that resets the response", "GET", "/reset", "", 200},
			{"rate limited", "GET", "/limited", "", 429},
			{"unknown route", "GET", "/nope", "", 404},
			{"wrong method", "PUT", "/ok", "", 405},
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("hsts %v/%s", hsts, tc.name), func(t *testing.T) {
				req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
				resp, err := app.Test(req, -1)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tc.status {
					t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
				}
				checkSecurityHeaders(t, resp.Header, hsts)
			})
		}
		// fasthttp refuses a body over the limit before any middleware runs; app.Test cannot
		// show it, a real listener does.
		t.Run(fmt.Sprintf("hsts %v/body over the upload limit", hsts), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = app.Listener(ln) }()
			t.Cleanup(func() { _ = app.Shutdown() })
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// The header alone announces the size; fasthttp answers before reading a body.
			if _, err := io.WriteString(conn, "POST /ok HTTP/1.1\r\nHost: huzhu\r\nContent-Type: text/plain\r\nContent-Length: 5000000\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("status %d, want 413", resp.StatusCode)
			}
			checkSecurityHeaders(t, resp.Header, hsts)
		})
	}
}

func checkSecurityHeaders(t *testing.T, h http.Header, hsts bool) {
	t.Helper()
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
	if got := h.Get("Referrer-Policy"); got != "same-origin" {
		t.Errorf("Referrer-Policy = %q, want same-origin", got)
	}
	if got := h.Get("Strict-Transport-Security"); (got != "") != hsts || (hsts && !strings.HasPrefix(got, "max-age=31536000")) {
		t.Errorf("Strict-Transport-Security = %q with HSTS %v", got, hsts)
	}
}

// TestBodyLimitChosenFromTheHeader: a body is held to the limit of where it goes before it is
// read. Each request declares a body larger than its limit and sends none of it: the server
// must answer 413 at once instead of waiting to read 50 MB into memory. Multipart uploads to
// the console and the API still get their own, larger limits.
func TestBodyLimitChosenFromTheHeader(t *testing.T) {
	app := New(Options{BodyLimit: 64 << 10, UploadLimit: 100 << 20, APIUploadLimit: 11 << 20})
	app.Post("/*", func(c *fiber.Ctx) error { return c.SendString("read") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	t.Cleanup(func() { app.Shutdown() })

	tests := []struct {
		name, path, contentType string
		declared                int
		refused                 bool
	}{
		{"JSON to the API", "/api/v1/session", "application/json", 50 << 20, true},
		{"form to the console", "/admin/login", "application/x-www-form-urlencoded", 50 << 20, true},
		{"upload to the API beyond a document", "/api/v1/claims/1/documents", "multipart/form-data; boundary=x", 50 << 20, true},
		{"upload to an unknown place", "/wechat/callback", "multipart/form-data; boundary=x", 50 << 20, true},
		{"upload to the console within its limit", "/admin/imports", "multipart/form-data; boundary=x", 50 << 20, false},
		{"upload to the API within a document", "/api/v1/claims/1/documents", "multipart/form-data; boundary=x", 5 << 20, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", tc.path, tc.contentType, tc.declared)
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			switch {
			case tc.refused && (err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge):
				t.Errorf("%s with %d bytes declared: %v, %v; want 413 at once", tc.path, tc.declared, resp, err)
			case !tc.refused && err == nil:
				t.Errorf("%s with %d bytes declared answered %d before the body came; want it read", tc.path, tc.declared, resp.StatusCode)
			case tc.refused:
				b, _ := io.ReadAll(resp.Body)
				if !strings.Contains(string(b), `"code":"request.too_large"`) {
					t.Errorf("413 body = %s, want the request.too_large error", b)
				}
			}
		})
	}
}
