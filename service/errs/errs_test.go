package errs

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindOfThroughWrapping(t *testing.T) {
	base := NotFound("payout.not_found", "没有找到这笔互助金")
	wrapped := fmt.Errorf("payout detail: %w", base)
	if got := KindOf(wrapped); got != KindNotFound {
		t.Errorf("KindOf(wrapped) = %v, want KindNotFound", got)
	}
	if !errors.Is(wrapped, &Error{Code: "payout.not_found"}) {
		t.Error("errors.Is by code failed through wrapping")
	}
	if errors.Is(wrapped, &Error{Code: "payout.other"}) {
		t.Error("errors.Is matched a different code")
	}
	if got := KindOf(errors.New("boom")); got != KindInternal {
		t.Errorf("KindOf(plain) = %v, want KindInternal", got)
	}
}

func TestInvalidNamesField(t *testing.T) {
	e := Invalid("id_number", "身份证号校验位不对", "请核对身份证号最后一位")
	if e.Code != "invalid.id_number" || e.Field != "id_number" || e.Kind != KindInvalid {
		t.Errorf("Invalid() = %+v", e)
	}
}
