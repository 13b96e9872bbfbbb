package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/spf13/cobra"

	"huzhu/config"
	"huzhu/handler/preview"
	"huzhu/model"
	"huzhu/service/demo"
	"huzhu/service/payment"
	"huzhu/service/wechat/fakewechat"
)

// Template ids the stand-in WeChat's notices use when the configuration names none.
const (
	demoTemplateOA = "demo-oa-template"
	demoTemplateMP = "demo-mp-template"
)

// startFakeWeChat starts the stand-in for WeChat's server API on loopback (wechat.fake, which
// `serve --demo` turns on when no WeChat account is configured) and points the configuration at
// it, with its demo accounts, callback token and AES key, and demo template ids where none are
// set, and binding.proof wechat_phone. Outside dev it refuses, whatever the configuration said.
func (e *env) startFakeWeChat() (*fakewechat.Fake, error) {
	if e.cfg.Env != "dev" {
		return nil, errors.New("wechat.fake: the stand-in WeChat runs in dev only (it hands tokens to anyone)")
	}
	f := fakewechat.New(fakewechat.Options{Demo: true, MaxRequests: 2000})
	if err := f.Start("127.0.0.1:0"); err != nil {
		return nil, err
	}
	w := &e.cfg.WeChat
	w.APIBase = f.URL
	w.OA = config.WeChatApp{AppID: fakewechat.OAAppID, AppSecret: fakewechat.OASecret, Token: fakewechat.OAToken,
		EncodingAESKey: fakewechat.OAEncodingAESKey}
	w.MP = config.WeChatApp{AppID: fakewechat.MPAppID, AppSecret: fakewechat.MPSecret}
	for _, t := range []*string{&w.Templates.OAArrived, &w.Templates.OAApproved, &w.Templates.OAFailed} {
		if *t == "" {
			*t = demoTemplateOA
		}
	}
	for _, t := range []*string{&w.Templates.MPArrived, &w.Templates.MPApproved, &w.Templates.MPFailed} {
		if *t == "" {
			*t = demoTemplateMP
		}
	}
	// The demo binds as production should: with the phone-number button, SMS as the fallback.
	e.cfg.Binding.Proof = "wechat_phone"
	e.fakeWX = f
	return f, nil
}

// logWeChatOff says, at start, which parts are off for want of a WeChat account and which key
// turns each on, so that a 404 on the callback or a 503 on login is not a mystery.
func (e *env) logWeChatOff() {
	w := e.cfg.WeChat
	if w.OA.AppID == "" {
		e.log.Info("the official account's callback /wechat/callback is off (404): no official account is configured",
			"fix", "set wechat.oa.app_id, app_secret, token and encoding_aes_key (HUZHU_WECHAT_OA_*), or try it with huzhu serve --demo")
	}
	if w.MP.AppID == "" {
		e.log.Info("mini-program login is off: POST /api/v1/session answers 503 login.wechat_unavailable",
			"fix", "set wechat.mp.app_id and app_secret (HUZHU_WECHAT_MP_*), or try it with huzhu serve --demo")
	}
}

// tryIt returns the 试一试 block printed after start-up in the demo: curl commands that log in
// as the demo worker with the stand-in WeChat, bind, list payouts, and talk to the callback
// with a valid signature. addr is where the server listens.
func (e *env) tryIt(ctx context.Context, addr string) (string, error) {
	base := "http://" + reachable(addr)
	d, err := e.demoSeeder(ctx)
	if err != nil {
		return "", err
	}
	w, err := d.DemoWorker(ctx)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n试一试（演示数据全部是虚构的；微信是本进程内的模拟服务器，任何 wx.login code 都是一个新账号）：\n")
	fmt.Fprintf(&b, "  职工看到的页面：%s/preview\n", base)
	fmt.Fprintf(&b, "  以演示职工 %s 的身份调用小程序接口（花名册：身份证 %s，京卡 %s，手机 %s）：\n", w.Name, w.IDNumber, w.JingCard, w.Phone)
	fmt.Fprintf(&b, "    TOKEN=$(curl -s -X POST %s/api/v1/session -H 'Content-Type: application/json' -d '{\"code\":\"demo\"}' | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')\n", base)
	fmt.Fprintf(&b, "    curl -s -X POST %s/api/v1/binding -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n", base)
	fmt.Fprintf(&b, "      -d '{\"name\":\"%s\",\"id_number\":\"%s\",\"jing_card\":\"%s\",\"phone_code\":\"phone-%s\"}'\n", w.Name, w.IDNumber, w.JingCard, w.Phone)
	fmt.Fprintf(&b, "    curl -s \"%s/api/v1/payouts?year=%d\" -H \"Authorization: Bearer $TOKEN\"\n", base, time.Now().In(model.Shanghai).Year()-1)
	fmt.Fprintf(&b, "    （phone_code 是小程序手机号按钮给的 code；模拟微信把 phone-<手机号> 当作验证过的这个号码）\n")
	fmt.Fprintf(&b, "  给公众号发一条消息（签名、加密与微信相同；机器人的回答打印出来）：\n")
	fmt.Fprintf(&b, "    %s wechat say --server %s 我能参加吗\n", selfCommand(), base)
	fmt.Fprintf(&b, "  模拟微信收到的通知：%s/admin/notifications（用下面的账号登录）\n", base)
	return b.String(), nil
}

// mountPreview mounts the worker preview (/preview) when the stand-in WeChat runs: its logins
// only work there. self returns this server's base URL once it listens.
func (e *env) mountPreview(ctx context.Context, app *fiber.App, self func() string) error {
	if e.fakeWX == nil {
		return nil
	}
	var w preview.Worker
	if d, err := e.demoSeeder(ctx); err != nil {
		return err
	} else if dw, err := d.DemoWorker(ctx); err == nil {
		w = preview.Worker{Name: dw.Name, IDNumber: dw.IDNumber, JingCard: dw.JingCard, Phone: dw.Phone}
	}
	p, err := preview.New(preview.Options{Base: self, Worker: w, WeChat: e.fakeWX, Log: e.log})
	if err != nil {
		return err
	}
	p.Mount(app)
	return nil
}

// demoSeeder builds the demo's seeder over the configured stores.
func (e *env) demoSeeder(ctx context.Context) (*demo.Seeder, error) {
	db, err := e.openDB(ctx)
	if err != nil {
		return nil, err
	}
	cipher, err := e.piiCipher()
	if err != nil {
		return nil, err
	}
	settle, cal, err := e.settlementService(ctx)
	if err != nil {
		return nil, err
	}
	return demo.New(db, cipher, settle, payment.New(db, cipher, cal, time.Now, e.log), cal, e.log), nil
}

// selfCommand is how to run this program again from a shell: "go run ./cmd/huzhu" when it was
// started by go run (its binary lives in a temporary build directory), its own name otherwise.
func selfCommand() string {
	if exe := os.Args[0]; !strings.Contains(exe, "go-build") {
		return exe // as it was typed: a path, or a name found on $PATH
	}
	return "go run ./cmd/huzhu"
}

// reachable turns a listen address into one a local curl can reach (0.0.0.0 → 127.0.0.1).
func reachable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// sayCmd is `huzhu wechat say`: send the official account's callback a text message as a
// follower would, signed (and encrypted when there is an AES key) as WeChat does, and print the
// bot's answer. Without an official account configured it speaks as the demo's stand-in WeChat,
// so it talks to `huzhu serve --demo`.
func sayCmd(e *env) *cobra.Command {
	var server, from string
	cmd := &cobra.Command{
		Use:     "say TEXT",
		Short:   "Send the callback /wechat/callback a signed message as a follower and print the bot's answer",
		Example: "  huzhu wechat say 我能参加吗\n  huzhu wechat say --server http://127.0.0.1:8081 --from my-openid 我的钱到了吗",
		Args:    oneArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			oa := e.cfg.WeChat.OA
			if oa.AppID == "" {
				oa = config.WeChatApp{AppID: fakewechat.OAAppID, Token: fakewechat.OAToken, EncodingAESKey: fakewechat.OAEncodingAESKey}
			}
			if server == "" {
				server = "http://" + reachable(e.cfg.HTTP.Addr)
			}
			key := oa.EncodingAESKey
			if oa.MessageMode() == config.ModePlain {
				key = ""
			}
			now := time.Now()
			q, body, err := fakewechat.SignPush(fakewechat.Push{ToUser: "gh_huzhu", FromUser: from, Text: args[0], At: now, MsgID: now.UnixNano()},
				oa.AppID, oa.Token, key)
			if err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, strings.TrimRight(server, "/")+"/wechat/callback?"+q.Encode(), bytes.NewReader(body))
			if err != nil {
				return fmt.Errorf("--server %q: %w", server, err)
			}
			req.Header.Set("Content-Type", "text/xml")
			res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				return fmt.Errorf("send to %s: %w (is huzhu serve running there? --server)", server, err)
			}
			defer res.Body.Close()
			reply, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("the callback answered %d %s (404: no official account configured there; 403: token, key or mode differ from the server's)",
					res.StatusCode, strings.TrimSpace(string(reply)))
			}
			text, err := fakewechat.OpenReply(reply, oa.AppID, key)
			if err != nil {
				return err
			}
			if text == "" {
				text = "（公众号没有回复）"
			}
			fmt.Fprintln(e.stdout, reTag.ReplaceAllString(text, "")) // links are for WeChat, not the terminal
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "", "where huzhu serve listens (default: http.addr)")
	cmd.Flags().StringVar(&from, "from", "demo-follower", "the follower's openid")
	return cmd
}
