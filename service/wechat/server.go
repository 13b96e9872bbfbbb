package wechat

import (
	"fmt"
	"net/http"

	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/officialaccount/server"
)

// Handler answers one message or event pushed to the official account. It returns nil for no
// reply ("success" in plain mode). It runs inside WeChat's 5-second window: do slow work
// elsewhere, and copy strings taken from the request's query before handing them to a goroutine.
type Handler func(*message.MixMessage) *message.Reply

// Server returns a message server for one callback request, with h set as its message handler.
// The caller runs srv.Serve() (which verifies the signature, answers the echostr check, decrypts
// safe-mode messages and calls h) and then srv.Send(). Serve writes nothing on failure, so the
// caller writes the status (403 for a bad signature). The library does not de-duplicate
// WeChat's retries: the caller must (MsgId, or FromUserName+CreateTime+Event for events).
//
// It returns ErrNotConfigured when no official account is configured, because an empty Token
// would let anyone forge a valid signature.
func (c *Client) Server(r *http.Request, w http.ResponseWriter, h Handler) (*server.Server, error) {
	if c.oa == nil || c.opts.OA.Token == "" {
		return nil, fmt.Errorf("callback: official account: %w", ErrNotConfigured)
	}
	if h == nil {
		return nil, fmt.Errorf("callback: nil message handler")
	}
	srv := c.oa.GetServer(r, w)
	srv.SetMessageHandler(h)
	return srv, nil
}

// Callback holds what a test needs to sign and encrypt callback requests like WeChat does
// (util.Signature, util.EncryptMsg).
type Callback struct {
	AppID          string
	Token          string
	EncodingAESKey string
}

// Callback returns the official account's callback settings.
func (c *Client) Callback() Callback {
	return Callback{AppID: c.opts.OA.AppID, Token: c.opts.OA.Token, EncodingAESKey: c.opts.OA.EncodingAESKey}
}
