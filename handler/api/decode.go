package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"huzhu/model"
	"huzhu/service/errs"
)

// decode reads the JSON body into v strictly: malformed JSON, a wrong type, an unknown field or
// trailing data is an Invalid error naming the field where it can. encoding/json copies every
// string, so nothing in v aliases Fiber's buffers.
func decode(c *fiber.Ctx, v any) error {
	body := bytes.TrimSpace(c.Body())
	if len(body) == 0 {
		return errs.Invalid("body", "请求内容为空", "请按接口文档提交 JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return errs.Invalid("body", "请求内容后面有多余的字符", "请只提交一个 JSON 对象")
	}
	return nil
}

func jsonError(err error) error {
	var (
		te *json.UnmarshalTypeError
		se *json.SyntaxError
	)
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return errs.Invalidf(field, "请按接口文档填写这一项", "“%s”的类型不对，应为%s", field, typeName(te.Type.Kind().String()))
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return errs.Invalid("body", "请求内容不是有效的 JSON", "请按接口文档提交 JSON")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return errs.Invalidf(name, "请去掉这一项，或检查拼写", "不认识的字段“%s”", name)
	}
	return errs.Invalid("body", "请求内容不是有效的 JSON", "请按接口文档提交 JSON")
}

func typeName(kind string) string {
	switch kind {
	case "string":
		return "文字"
	case "bool":
		return "true 或 false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "整数"
	case "map", "struct":
		return "对象"
	case "slice", "array":
		return "数组"
	}
	return kind
}

// timeJSON formats an instant in Asia/Shanghai, as every time in the API.
func timeJSON(t time.Time) string { return t.In(model.Shanghai).Format("2006-01-02T15:04:05+08:00") }

// timePtr is timeJSON for optional times: nil and the zero time give null.
func timePtr(t *time.Time) *string {
	if t == nil || t.IsZero() {
		return nil
	}
	s := timeJSON(*t)
	return &s
}

// datePtr gives null for an empty date.
func datePtr(d model.Date) *string {
	if d == "" {
		return nil
	}
	s := string(d)
	return &s
}
