package notify

import (
	"strings"
	"testing"

	"huzhu/model"
)

func TestClaimNoticesSayWhatToDo(t *testing.T) {
	tests := []struct {
		kind model.NoticeKind
		p    Payload
		want []string
	}{
		{model.NoticeClaimReturned, Payload{ClaimID: 7, Reason: "材料照片不清晰，请重新拍照"}, []string{"编号7", "材料照片不清晰", "小程序", "12351"}},
		{model.NoticeClaimConfirmed, Payload{ClaimID: 7, ClaimTypes: "住院"}, []string{"编号7", "办事处确认", "住院结算", "12351"}},
	}
	for _, tc := range tests {
		c, err := render(tc.kind, tc.p, "12351", "2025-06-01")
		if err != nil {
			t.Fatalf("render(%s): %v", tc.kind, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(c.sms, w) {
				t.Errorf("%s SMS %q lacks %q", tc.kind, c.sms, w)
			}
		}
		for k, v := range c.data {
			if len([]rune(v)) > 20 && k != keyAmount {
				t.Errorf("%s field %s = %q is longer than WeChat's thing limit", tc.kind, k, v)
			}
		}
	}
}
