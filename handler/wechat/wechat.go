// Package wechat is the official account's message callback (/wechat/callback): WeChat's GET
// URL check and POSTed messages, plain and AES safe mode, through silenceper/wechat's message
// server. It parses, hands each message to the bot, and writes the reply XML; the signature
// check, decryption and XML are the library's, the answers are service/bot's. It refuses what
// the signature alone lets through: replays (a timestamp outside the window, a nonce seen
// within it) and plain messages when the account is in safe mode.
package wechat

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/officialaccount/server"

	"huzhu/handler"
	"huzhu/service/bot"
	"huzhu/service/errs"
	"huzhu/service/kv"
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

// DefaultWindow is how far a callback's timestamp may be from now.
const DefaultWindow = 5 * time.Minute

// Message encryption modes of the official account (WeChat's 消息加解密方式).
const (
	// ModePlain (明文模式) accepts plain messages; encrypted ones cannot be read without a key.
	ModePlain = "plain"
	// ModeCompatible (兼容模式) accepts plain and encrypted messages, for switching over.
	ModeCompatible = "compatible"
	// ModeSafe (安全模式) accepts only encrypted messages (encrypt_type=aes with msg_signature).
	ModeSafe = "safe"
)

// NonceStore remembers the requests seen; kv.Store satisfies it.
type NonceStore interface {
	SetNX(ctx context.Context, key string, val []byte, ttl time.Duration) (bool, error)
	Get(ctx context.Context, key string) ([]byte, bool, error)
}

// Options configures the callback; zero fields take the defaults.
type Options struct {
	// MaxBody bounds a POSTed body; WeChat's messages are a few hundred bytes.
	MaxBody int
	// Timeout bounds the answer of one message, well inside WeChat's 5 seconds.
	Timeout time.Duration
	// Mode is the message encryption mode chosen in WeChat's 服务器配置. Empty: ModeSafe, which
	// refuses every plain POST.
	Mode string
	// Window is how far a request's timestamp may be from now (either way); a (timestamp,
	// nonce) pair is refused a second time while its timestamp is inside the window. Zero:
	// DefaultWindow.
	Window time.Duration
	// Nonces remembers the (timestamp, nonce) pairs seen. Give the shared kv store (Redis) so
	// that a request replayed to another instance is refused too. Nil: an in-process store,
	// right only for a single instance.
	Nonces NonceStore
	// Now is the clock the timestamps are checked against. Nil: time.Now.
	Now func() time.Time
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
	if opts.Mode == "" {
		opts.Mode = ModeSafe
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Nonces == nil {
		opts.Nonces = kv.NewMemory(opts.Now)
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

// callback answers WeChat. A bad signature, a timestamp outside the window, a (timestamp, nonce)
// seen before and, in safe mode, a plain POST are 403; an unreadable body (bad XML, bad
// ciphertext) is 400; both with an empty body. A message gets its reply XML, or "success" when
// there is nothing to say. When the nonce store is down the answer is 503 with Retry-After, and
// WeChat retries.
func (h *Handler) callback(c *fiber.Ctx) error {
	if len(c.Request().Body()) > h.opts.MaxBody {
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
	if !srv.Validate() {
		return empty(c, fiber.StatusForbidden)
	}
	if reason, err := h.admit(c); err != nil {
		return err
	} else if reason != "" {
		// The signature is right, so this is WeChat's request replayed or one this server's
		// mode refuses; neither body nor query is logged (they carry the openid).
		h.log.Warn("wechat callback refused", "reason", reason, "request_id", handler.RequestID(c))
		return empty(c, fiber.StatusForbidden)
	}
	if err := srv.Serve(); err != nil {
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

// admit decides whether a well-signed request may be served. It returns why not ("stale",
// "replayed", "plain_in_safe_mode", "bad_nonce"), or an error when the nonce store failed.
func (h *Handler) admit(c *fiber.Ctx) (string, error) {
	ts, nonce := c.Query("timestamp"), c.Query("nonce")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "stale", nil
	}
	if d := h.opts.Now().Sub(time.Unix(sec, 0)); d > h.opts.Window || d < -h.opts.Window {
		return "stale", nil
	}
	if c.Method() == fiber.MethodPost && h.opts.Mode == ModeSafe && c.Query("encrypt_type") != "aes" {
		return "plain_in_safe_mode", nil
	}
	if nonce == "" || len(nonce) > 64 {
		return "bad_nonce", nil
	}
	// Keyed by timestamp and nonce, both covered by the signature: a replay repeats both,
	// while two genuine pushes share a random nonce only if sent in the same second. The pair
	// is remembered until its timestamp has left the window on both sides, with a digest of
	// the request. WeChat's documents do not say whether its own retry (no answer within 5 s)
	// keeps the timestamp and nonce, so a repeat of the same request is served again (the bot
	// answers a retried message once, by MsgId, and repeats that answer); a repeat with another
	// body is someone reusing a signature, which in plain mode does not cover the body.
	digest := sha256.Sum256(append([]byte(c.Method()+"\n"), c.Request().Body()...))
	key := "wechat:callback:" + ts + ":" + nonce
	first, err := h.opts.Nonces.SetNX(c.UserContext(), key, digest[:], 2*h.opts.Window)
	if err != nil {
		return "", fmt.Errorf("wechat callback: remember nonce: %w", err)
	}
	if first {
		return "", nil
	}
	seen, ok, err := h.opts.Nonces.Get(c.UserContext(), key)
	if err != nil {
		return "", fmt.Errorf("wechat callback: read nonce: %w", err)
	}
	if ok && hmac.Equal(seen, digest[:]) {
		return "", nil
	}
	return "replayed", nil
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
