package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"

	"huzhu/handler"
	"huzhu/service/wechat/wechattest"
)

// botEnv returns a loaded env over a temporary SQLite database; extra adds HUZHU_* variables.
func botEnv(t *testing.T, stdin string, extra map[string]string) (*env, *bytes.Buffer) {
	t.Helper()
	old := util.DefaultHTTPClient // wechat.New replaces the library's process-global client
	t.Cleanup(func() { util.DefaultHTTPClient = old })
	out := &bytes.Buffer{}
	e := &env{getenv: testEnv(t, extra), stdin: strings.NewReader(stdin), stdout: out, stderr: io.Discard}
	if err := e.load(); err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(e.close)
	return e, out
}

func fakeOA(fake *wechattest.Fake) map[string]string {
	return map[string]string{
		"HUZHU_WECHAT_API_BASE":            fake.URL,
		"HUZHU_WECHAT_OA_APP_ID":           wechattest.OAAppID,
		"HUZHU_WECHAT_OA_APP_SECRET":       wechattest.OASecret,
		"HUZHU_WECHAT_OA_TOKEN":            wechattest.OAToken,
		"HUZHU_WECHAT_OA_ENCODING_AES_KEY": wechattest.OAEncodingAESKey,
		"HUZHU_WECHAT_MP_APP_ID":           wechattest.MPAppID,
		"HUZHU_WECHAT_MP_APP_SECRET":       wechattest.MPSecret,
	}
}

func TestChatCmd(t *testing.T) {
	e, out := botEnv(t, "一年最多能报多少钱\n我能参加吗\n退出\n我的钱到了吗\n\n", nil)
	cmd := chatCmd(e)
	cmd.SetArgs(nil)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("chat: %v", err)
	}
	got := out.String()
	for _, w := range []string{"未绑定的职工", "200653元", "基本医疗保险吗", "不问了", "绑定"} {
		if !strings.Contains(got, w) {
			t.Errorf("chat output lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "<a ") {
		t.Errorf("chat output has HTML tags:\n%s", got)
	}
}

func TestMountBot(t *testing.T) {
	t.Run("no official account: nothing mounted", func(t *testing.T) {
		e, _ := botEnv(t, "", nil)
		app := handler.New(handler.Options{})
		if err := e.mountBot(context.Background(), app); err != nil {
			t.Fatal(err)
		}
		resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/wechat/callback?echostr=1", nil), -1)
		if err != nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET /wechat/callback = %v, %v; want 404", resp.StatusCode, err)
		}
	})
	t.Run("official account: the callback answers", func(t *testing.T) {
		fake := wechattest.New(t)
		e, _ := botEnv(t, "", fakeOA(fake))
		app := handler.New(handler.Options{})
		if err := e.mountBot(context.Background(), app); err != nil {
			t.Fatal(err)
		}
		// fakeOA sets an AES key, so the account is in safe mode: the URL check is plain, messages
		// are encrypted. Each request has its own nonce, as WeChat's do.
		now := fmt.Sprint(time.Now().Unix())
		q := func(n string) string {
			return "timestamp=" + now + "&nonce=" + n + "&signature=" + util.Signature(wechattest.OAToken, now, n)
		}
		resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/wechat/callback?"+q("n1")+"&echostr=ok42", nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "ok42" {
			t.Fatalf("echostr = %d %q", resp.StatusCode, b)
		}
		body := `<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[o-1]]></FromUserName><CreateTime>1</CreateTime>` +
			`<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[怎么绑卡]]></Content><MsgId>9</MsgId></xml>`
		resp, err = app.Test(httptest.NewRequest(http.MethodPost, "/wechat/callback?"+q("n2"), strings.NewReader(body)), -1)
		if err != nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("plain POST in safe mode = %v, %v; want 403", resp.StatusCode, err)
		}
		enc, err := util.EncryptMsg([]byte("0123456789abcdef"), []byte(body), wechattest.OAAppID, wechattest.OAEncodingAESKey)
		if err != nil {
			t.Fatal(err)
		}
		aes := q("n3") + "&encrypt_type=aes&msg_signature=" + util.Signature(wechattest.OAToken, now, "n3", string(enc))
		resp, err = app.Test(httptest.NewRequest(http.MethodPost, "/wechat/callback?"+aes,
			strings.NewReader("<xml><Encrypt><![CDATA["+string(enc)+"]]></Encrypt></xml>")), -1)
		if err != nil {
			t.Fatal(err)
		}
		var reply message.ResponseEncryptedXMLMsg
		if b, _ = io.ReadAll(resp.Body); xml.Unmarshal(b, &reply) != nil {
			t.Fatalf("encrypted POST = %d %q", resp.StatusCode, b)
		}
		if _, b, err = util.DecryptMsg(wechattest.OAAppID, reply.EncryptedMsg, wechattest.OAEncodingAESKey); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `data-miniprogram-appid="`+wechattest.MPAppID+`"`) || !strings.Contains(string(b), "pages/bind/index") {
			t.Fatalf("bind answer in WeChat = %q, want a mini-program link", b)
		}
	})
}

func TestWechatMenuCmd(t *testing.T) {
	fake := wechattest.New(t)
	e, out := botEnv(t, "", fakeOA(fake))
	cmd := wechatCmd(e)
	cmd.SetArgs([]string{"menu"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("wechat menu: %v", err)
	}
	reqs := fake.Requests(wechattest.PathMenuCreate)
	if len(reqs) != 1 {
		t.Fatalf("menu/create requests = %d, want 1", len(reqs))
	}
	body := string(reqs[0].Body)
	for _, w := range []string{"查到账", `"key":"MY_ARRIVAL"`, `"key":"HUMAN"`, `"pagepath":"pages/bind/index"`} {
		if !strings.Contains(body, w) {
			t.Errorf("menu body %s lacks %s", body, w)
		}
	}
	if !strings.Contains(out.String(), "已发布") {
		t.Errorf("output = %q", out.String())
	}
}

func TestChatUnknownMember(t *testing.T) {
	e, out := botEnv(t, "我的钱到了吗\n\n", nil)
	cmd := chatCmd(e)
	cmd.SetArgs([]string{"--member", "999"})
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--member 999: no such member") {
		t.Fatalf("chat --member 999 = %v, want it refused", err)
	}
	if strings.Contains(out.String(), "互助保障小助手") {
		t.Errorf("chat started a conversation for an unknown member:\n%s", out.String())
	}
}
