package main

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"huzhu/config"
	"huzhu/service/notify"
	"huzhu/service/wechat"
)

// notifyCmd is `huzhu notify`: look at the outbox and put failed notices back in the queue.
func notifyCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Inspect arrival notices and retry failed ones",
	}
	var id uint64
	var all bool
	retry := &cobra.Command{
		Use:   "retry (--id N | --all-failed)",
		Short: "Queue failed notices again (writes an audit row)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (id == 0) == !all {
				return fmt.Errorf("give exactly one of --id N or --all-failed")
			}
			d, err := e.dispatcher(cmd.Context(), nil)
			if err != nil {
				return err
			}
			if all {
				who, err := e.staffActor(cmd)
				if err != nil {
					return err
				}
				n, err := d.RetryAllFailed(cmd.Context(), who)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "已重新排队 %d 条发送失败的通知\n", n)
				return nil
			}
			who, err := e.staffActor(cmd)
			if err != nil {
				return err
			}
			if err := d.Retry(cmd.Context(), id, who); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "通知 %d 已重新排队\n", id)
			return nil
		},
	}
	retry.Flags().Uint64Var(&id, "id", 0, "the notice id, as listed by huzhu notify status")
	retry.Flags().BoolVar(&all, "all-failed", false, "every failed notice")

	var limit int
	status := &cobra.Command{
		Use:   "status",
		Short: "Count notices by status and channel, and list the latest failures",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := e.dispatcher(cmd.Context(), nil)
			if err != nil {
				return err
			}
			counts, err := d.Stats(cmd.Context())
			if err != nil {
				return err
			}
			var tb table
			tb.row("状态", "渠道", "数量")
			for _, c := range counts {
				tb.row(c.Status.Label(), string(c.Channel), fmt.Sprint(c.N))
			}
			if err := tb.write(e.stdout); err != nil {
				return err
			}
			failed, err := d.Failed(cmd.Context(), limit)
			if err != nil || len(failed) == 0 {
				return err
			}
			fmt.Fprintln(e.stdout, "\n最近发送失败（huzhu notify retry --id N 重发）：")
			tb = table{}
			tb.row("id", "会员", "渠道", "尝试", "原因")
			for _, n := range failed {
				tb.row(fmt.Sprint(n.ID), fmt.Sprint(n.MemberID), string(n.Channel), fmt.Sprint(n.Attempts), n.LastError)
			}
			return tb.write(e.stdout)
		},
	}
	status.Flags().IntVar(&limit, "failed", 20, "how many recent failures to list")
	cmd.AddCommand(retry, status)
	return cmd
}

// dispatcher builds the notice dispatcher from the configuration: WeChat when an official
// account or mini-program is configured, SMS through the configured provider, the shared rate
// limit in Redis when configured. reg may be nil.
func (e *env) dispatcher(ctx context.Context, reg prometheus.Registerer) (*notify.Dispatcher, error) {
	db, err := e.openDB(ctx)
	if err != nil {
		return nil, err
	}
	kvs, err := e.openKV(ctx)
	if err != nil {
		return nil, err
	}
	cipher, err := e.piiCipher()
	if err != nil {
		return nil, err
	}
	n := e.cfg.Notify
	var quiet notify.Quiet
	if n.QuietStart != "" || n.QuietEnd != "" {
		if quiet, err = notify.ParseQuiet(n.QuietStart, n.QuietEnd); err != nil {
			return nil, fmt.Errorf("notify.quiet_start/quiet_end: %w", err)
		}
	}
	senders := notify.Senders{Phones: cipher, SMS: e.smsSender()}
	w := e.cfg.WeChat
	wx, err := e.wechatClient(ctx)
	if err != nil {
		return nil, err
	}
	if wx != nil {
		a := notify.NewWeChat(wx)
		if w.OA.AppID != "" {
			senders.Template = a
		}
		if w.MP.AppID != "" {
			senders.Subscribe = a
		}
	}
	t := w.Templates
	return notify.New(db, senders, notify.Options{
		Templates: notify.Templates{OAArrived: t.OAArrived, OAApproved: t.OAApproved, OAFailed: t.OAFailed,
			MPArrived: t.MPArrived, MPApproved: t.MPApproved, MPFailed: t.MPFailed},
		Batch: n.Batch, Lease: n.Lease, MaxAttempts: n.MaxAttempts, RatePerSecond: n.RatePerSecond,
		KV: kvs, Quiet: quiet, Registerer: reg,
	}, nil, e.log), nil
}

// wechatClient returns the process's one WeChat client (the library keeps process-global HTTP
// settings), or nil when neither an official account nor a mini-program is configured.
func (e *env) wechatClient(ctx context.Context) (*wechat.Client, error) {
	if e.wx != nil {
		return e.wx, nil
	}
	if _, err := e.openKV(ctx); err != nil { // the token cache lives in Redis when configured
		return nil, err
	}
	w := e.cfg.WeChat
	if w.OA.AppID == "" && w.MP.AppID == "" {
		return nil, nil
	}
	opts := wechatOptions(e.cfg)
	if e.redis != nil {
		opts.Redis = e.redis
	}
	wx, err := wechat.New(opts, e.log)
	if err != nil {
		return nil, err
	}
	e.wx = wx
	return wx, nil
}

// wechatOptions maps the configuration to the WeChat client's options. The access-token cache
// keys go under redis.prefix, so that deployments sharing a Redis keep their own tokens.
func wechatOptions(cfg config.Config) wechat.Options {
	w := cfg.WeChat
	return wechat.Options{
		OA:      wechat.OfficialAccount{AppID: w.OA.AppID, AppSecret: w.OA.AppSecret, Token: w.OA.Token, EncodingAESKey: w.OA.EncodingAESKey},
		MP:      wechat.MiniProgram{AppID: w.MP.AppID, AppSecret: w.MP.AppSecret},
		APIBase: w.APIBase, HTTPTimeout: w.HTTPTimeout,
		KeyPrefix: cfg.Redis.Prefix + "wechat:",
	}
}

// smsSender returns the configured SMS provider: an HTTP gateway, or the log provider of dev
// (which only logs, with the phone masked). Notices and binding codes both use it.
func (e *env) smsSender() notify.SMSSender {
	if n := e.cfg.Notify.SMS; n.Provider == "http" {
		return notify.NewHTTPSMS(n.URL, n.APIKey, nil)
	}
	return notify.NewLogSMS(e.log)
}
