// Package wechat is the official account's message callback (/wechat/callback): WeChat's GET
// URL check and POSTed messages, plain and AES safe mode, through silenceper/wechat's message
// server. It parses, hands each message to the bot, and writes the reply XML; the signature
// check, decryption and XML are the library's, the answers are service/bot's.
package wechat

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/officialaccount/server"

	"huzhu/service/bot"
	"huzhu/service/errs"
	"huzhu/service/wechat"
)

// Path is where the callback is mounted; enter PublicURL + Path as the server URL in the official
// account's 基本配置 → 服务器配置.
const Path = "/wechat/callback"

// Defaults of Options.
const (
	DefaultMaxBody = 64 << 10
	DefaultTimeout = 4 * time.Second
)

// busyText is the reply when the answer could not be computed (the database failed).
const busyText = "系统有点忙，请稍后再问一次；着急的话请拨打" + bot.Hotline + "。"

// Bot answers one message; *bot.Bot satisfies it.
type Bot interface {
	Handle(ctx context.Context, m bot.Message) (bot.Reply, error)
}

// Servers builds the library's message server for one request; *wechat.Client satisfies it.
type Servers interface {
	Server(r *http.Request, w http.ResponseWriter, h wechat.Handler) (*server.Server, error)
}

// Options configures the callback; zero fields take the defaults.
type Options struct {
	// MaxBody bounds a POSTed body; WeChat's messages are a few hundred bytes.
	MaxBody int
	// Timeout bounds the answer of one message, well inside WeChat's 5 seconds.
	Timeout time.Duration
	// Followers links followers to workers on subscribe and on messages from unknown openids;
	// nil: no linking (the bot still records the follow state).
	Followers Followers
	// Receipts takes WeChat's template-message receipts (TEMPLATESENDJOBFINISH); nil: ignored.
	Receipts Receipts
}

// Handler is the callback.
type Handler struct {
	bot  Bot
	wx   Servers
	opts Options
	log  *slog.Logger
}

// New returns the callback over the bot and the WeChat client. log may be nil.
func New(b Bot, wx Servers, opts Options, log *slog.Logger) *Handler {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{bot: b, wx: wx, opts: opts, log: log}
}

// Mount registers GET and POST Path on r.
func (h *Handler) Mount(r fiber.Router) {
	r.Get(Path, h.callback)
	r.Post(Path, h.callback)
}

// callback answers WeChat. A bad signature is 403 and an unreadable body (bad XML, bad
// ciphertext) 400, both with an empty body; a message gets its reply XML, or "success" when
// there is nothing to say.
func (h *Handler) callback(c *fiber.Ctx) error {
	if len(c.Body()) > h.opts.MaxBody {
		return empty(c, fiber.StatusRequestEntityTooLarge)
	}
	r, err := adaptor.ConvertRequest(c, true)
	if err != nil {
		return empty(c, fiber.StatusBadRequest)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), h.opts.Timeout)
	defer cancel()
	w := &recorder{header: http.Header{}}
	srv, err := h.wx.Server(r, w, func(m *message.MixMessage) *message.Reply {
		if !h.event(ctx, m) {
			return nil
		}
		rep, err := h.bot.Handle(ctx, toMessage(m))
		if err != nil {
			h.log.Error("wechat callback: answer", "err", err)
			rep.Text = busyText
		}
		if rep.Text == "" {
			return nil
		}
		return &message.Reply{MsgType: message.MsgTypeText, MsgData: message.NewText(rep.Text)}
	})
	if errors.Is(err, wechat.ErrNotConfigured) {
		return errs.New(errs.KindUnavailable, "wechat.not_configured", "公众号未配置")
	}
	if err != nil {
		return err
	}
	if err := srv.Serve(); err != nil {
		if !srv.Validate() {
			return empty(c, fiber.StatusForbidden)
		}
		h.log.Info("wechat callback: unreadable message", "err", err)
		return empty(c, fiber.StatusBadRequest)
	}
	switch {
	case srv.ResponseMsg != nil:
		if err := srv.Send(); err != nil {
			return err
		}
	case c.Query("encrypt_type") == "aes" && c.Query("echostr") == "":
		// The library would encrypt an empty reply; "success" is WeChat's documented "no reply".
		w.reset()
		w.header.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
		w.body.WriteString("success")
	}
	if ct := w.header.Get(fiber.HeaderContentType); ct != "" {
		c.Set(fiber.HeaderContentType, ct)
	}
	return c.Status(w.status()).Send(w.body.Bytes())
}

// empty answers status with no body: WeChat reads only the status of a refused push.
func empty(c *fiber.Ctx, status int) error {
	c.Status(status)
	c.Response().ResetBody()
	return nil
}

// toMessage copies what the bot needs from the library's message (its strings come from
// xml.Unmarshal, so they do not alias the request buffers).
func toMessage(m *message.MixMessage) bot.Message {
	text := m.Content
	if m.MsgType == message.MsgTypeVoice {
		text = m.Recognition
	}
	return bot.Message{
		OpenID: string(m.FromUserName), UnionID: m.UnionID, MsgID: m.MsgID, CreateTime: m.CreateTime,
		Type: string(m.MsgType), Text: text, Event: string(m.Event), EventKey: m.EventKey,
	}
}

// recorder is the http.ResponseWriter the library writes to; the handler copies it into
// Fiber's response.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) Write(p []byte) (int, error) { return w.body.Write(p) }

func (w *recorder) WriteHeader(code int) { w.code = code }

func (w *recorder) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

func (w *recorder) reset() {
	w.body.Reset()
	w.code = 0
}
