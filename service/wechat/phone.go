package wechat

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

const apiPhoneNumber = "phone_number"

// Phone is the phone number WeChat verified for a mini-program user (phone_info of
// wxa/business/getuserphonenumber). It is personal data: never log it (LogValue hides it).
type Phone struct {
	Number      string // as the user bound it, with the country code for foreign numbers
	Pure        string // without the country code
	CountryCode string // "86" for mainland numbers
}

// LogValue implements slog.LogValuer, leaving out the numbers.
func (p Phone) LogValue() slog.Value {
	return slog.GroupValue(slog.String("country_code", p.CountryCode), slog.Bool("has_number", p.Pure != ""))
}

// PhoneNumber exchanges the code of the mini-program's phone-number button (open-type
// getPhoneNumber; the code is valid once, for five minutes) for the user's verified number.
// The answer's watermark must name our mini-program: a code issued to another app is refused.
// Errors are *Error: an invalid, used or expired code is BadRequest (40029), a frequency limit
// RateLimited (45011), a busy WeChat Transient (-1); an answer without a number or with another
// app's watermark is BadRequest; no mini-program wraps ErrNotConfigured. An invalid token is
// retried once with a fresh one.
func (c *Client) PhoneNumber(ctx context.Context, code string) (Phone, error) {
	a, err := c.mpAccount()
	if err != nil {
		return Phone{}, fmt.Errorf("%s: %w", apiPhoneNumber, err)
	}
	if code == "" {
		return Phone{}, &Error{API: apiPhoneNumber, Msg: "empty phone code", kind: BadRequest}
	}
	var p Phone
	err = c.withToken(ctx, a, apiPhoneNumber, func(string) error {
		// The library reads the token from the same cache withToken just filled or dropped.
		res, err := c.mp.GetAuth().GetPhoneNumberContext(ctx, code)
		if err != nil {
			return err
		}
		info := res.PhoneInfo
		if info.WaterMark.AppID != c.opts.MP.AppID {
			return &Error{API: apiPhoneNumber, Msg: fmt.Sprintf("watermark appid %q is not this mini-program", info.WaterMark.AppID), kind: BadRequest}
		}
		if info.PurePhoneNumber == "" {
			return &Error{API: apiPhoneNumber, Msg: "answer has no phone number", kind: BadRequest}
		}
		p = Phone{Number: info.PhoneNumber, Pure: strings.TrimSpace(info.PurePhoneNumber), CountryCode: strings.TrimSpace(info.CountryCode)}
		return nil
	})
	return p, err
}
