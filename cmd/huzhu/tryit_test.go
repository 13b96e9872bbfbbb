package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeDemoBringsWeChat is the newcomer's five minutes: `serve --demo` starts its own
// WeChat, prints a 试一试 block whose commands, pasted into a shell, log in as the demo worker,
// bind with the phone-number proof, list payouts and talk to the callback; the console's 通知
// page shows what the stand-in WeChat received.
func TestServeDemoBringsWeChat(t *testing.T) {
	base, out := startServeOut(t, testEnv(t, nil), "--demo")
	// Everything is printed before the server answers its first request; wait for the accounts.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "demo-auditor") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	text := out.String()
	for _, want := range []string{"试一试", "/api/v1/session", `{"code":"demo"}`, "phone_code", "/api/v1/payouts", "wechat say --server", "/preview", "demo-admin"} {
		if !strings.Contains(text, want) {
			t.Errorf("start-up output lacks %q:\n%s", want, text)
		}
	}
	if strings.Index(text, "试一试") > strings.Index(text, "demo-admin") {
		t.Errorf("the passwords are not printed last:\n%s", text)
	}

	t.Run("the printed commands work in a shell", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("no curl on this machine")
		}
		script := commandsOf(text)
		cmd := exec.Command("sh", "-c", "set -e\n"+script)
		got, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sh: %v\n%s\nscript:\n%s", err, got, script)
		}
		for _, want := range []string{`"member_id":`, `"status_label":"已到账"`, `"arrived_fen":20065300`, `"reason":"年度已达最高额 200,653 元"`} {
			if !strings.Contains(string(got), want) {
				t.Errorf("output of the printed commands lacks %q:\n%s", want, got)
			}
		}
	})

	t.Run("huzhu wechat say talks to the callback in safe mode", func(t *testing.T) {
		var out bytes.Buffer
		getenv := testEnv(t, nil)
		if err := run(context.Background(), []string{"wechat", "say", "--server", base, "我能参加吗"}, getenv, strings.NewReader(""), &out, io.Discard); err != nil {
			t.Fatalf("wechat say: %v", err)
		}
		if !strings.Contains(out.String(), "基本医疗保险") {
			t.Errorf("wechat say printed %q, want the bot's answer about coverage", out.String())
		}
	})

	t.Run("the console lists what the stand-in WeChat received", func(t *testing.T) {
		pw := regexp.MustCompile(`demo-admin +(\S+)`).FindStringSubmatch(text)
		if pw == nil {
			t.Fatalf("no demo-admin password in:\n%s", text)
		}
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		if _, err := hc.Get(base + "/admin/login"); err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(base + "/admin/login")
		var csrf string
		for _, c := range jar.Cookies(u) {
			if c.Name == "huzhu_admin_login" {
				csrf = c.Value
			}
		}
		res, err := hc.PostForm(base+"/admin/login", url.Values{"username": {"demo-admin"}, "password": {pw[1]}, "_csrf": {csrf}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		res, err = hc.Get(base + "/admin/notifications")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "演示微信收到的消息") {
			t.Errorf("GET /admin/notifications = %d, want the stand-in WeChat's section:\n%.2000s", res.StatusCode, body)
		}
	})
}

// commandsOf returns the shell commands of the 试一试 block: the lines that start a command
// (TOKEN=, curl) and their continuation lines.
func commandsOf(text string) string {
	var b strings.Builder
	cont := false
	for _, line := range strings.Split(text, "\n") {
		l := strings.TrimSpace(line)
		if cont || strings.HasPrefix(l, "TOKEN=") || strings.HasPrefix(l, "curl ") {
			b.WriteString(l + "\n")
			cont = strings.HasSuffix(l, `\`)
			if !cont {
				b.WriteString("echo\n")
			}
		}
	}
	return b.String()
}

// TestServeWithoutWeChatSaysWhichKey: a real deployment without a mini-program answers a login
// with 503 and a fix that names the keys.
func TestServeWithoutWeChatSaysWhichKey(t *testing.T) {
	base := startServe(t, testEnv(t, nil))
	res, err := http.Post(base+"/api/v1/session", "application/json", strings.NewReader(`{"code":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e struct{ Code, Fix string }
	_ = json.NewDecoder(res.Body).Decode(&e)
	if res.StatusCode != http.StatusServiceUnavailable || e.Code != "login.wechat_unavailable" || !strings.Contains(e.Fix, "wechat.mp.app_id") {
		t.Errorf("POST /api/v1/session = %d %+v, want 503 login.wechat_unavailable with a fix naming wechat.mp.app_id", res.StatusCode, e)
	}
	res, err = http.Post(base+"/wechat/callback", "text/xml", strings.NewReader("<xml/>"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("POST /wechat/callback without an official account = %d, want 404", res.StatusCode)
	}
	res, err = http.Get(base + "/preview/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /preview/ without the stand-in WeChat = %d, want 404 (the preview is for the demo)", res.StatusCode)
	}
}
