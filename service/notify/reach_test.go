package notify

import (
	"context"
	"testing"

	"huzhu/service/store/storetest"
)

func TestReach(t *testing.T) {
	db := storetest.NewDB(t)
	c := testCipher(t)
	for i, p := range []person{
		{follows: true, phone: "13800000001"},
		{subscribed: true},
		{phone: "13800000003", optOut: true},
		{phone: "13800000004"},
		{noWeChat: true, phone: "13800000005"}, // not bound: not counted
	} {
		mustMember(t, db, c, i, p)
	}
	d := New(db, Senders{}, Options{}, nil, quietLog())
	got, err := d.Reach(context.Background())
	want := Reach{Bound: 4, Template: 1, Subscribe: 1, SMS: 2, None: 1}
	if err != nil || got != want {
		t.Fatalf("Reach() = %+v, %v; want %+v", got, err, want)
	}
}
