package main

import (
	"bufio"
	"context"
	"fmt"
	"html"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/spf13/cobra"

	"huzhu/config"
	wxh "huzhu/handler/wechat"
	"huzhu/model"
	"huzhu/service/bot"
	"huzhu/service/member"
	"huzhu/service/payout"
	"huzhu/service/wechat"
)

// Mini-program pages the bot links to. They are constants until the mini-program settles its
// paths; see the report for the config keys they would become.
const (
	bindPage     = "pages/bind/index"
	estimatePage = "pages/estimate/index"
)

// botLinks returns the links the answers show: <a data-miniprogram-…> tags in WeChat when a
// mini-program is configured, plain directions otherwise (and in the terminal).
func (e *env) botLinks(inWeChat bool) bot.Links {
	mp := e.cfg.WeChat.MP.AppID
	if !inWeChat || mp == "" {
		return bot.Links{}
	}
	link := func(page, text string) string {
		return fmt.Sprintf(`<a data-miniprogram-appid="%s" data-miniprogram-path="%s" href="%s">%s</a>`,
			html.EscapeString(mp), page, html.EscapeString(e.cfg.HTTP.PublicURL), text)
	}
	return bot.Links{Bind: link(bindPage, "点这里打开小程序绑定京卡"), Estimate: link(estimatePage, "点这里打开小程序估算")}
}

// botService builds the official-account bot over the configured stores and its own knowledge
// base (see rulebook). inWeChat selects links for WeChat rather than plain directions for the
// terminal.
func (e *env) botService(ctx context.Context, inWeChat bool) (*bot.Bot, error) {
	rules, err := e.rulebook(ctx, inWeChat)
	if err != nil {
		return nil, err
	}
	return e.botOver(ctx, rules.KB())
}

// botOver builds the bot over the knowledge base kb.
func (e *env) botOver(ctx context.Context, kb *bot.KB) (*bot.Bot, error) {
	db, err := e.openDB(ctx)
	if err != nil {
		return nil, err
	}
	kvs, err := e.openKV(ctx)
	if err != nil {
		return nil, err
	}
	engine, err := e.policyEngine(ctx)
	if err != nil {
		return nil, err
	}
	payouts := payout.New(db, engine, e.cal, payout.Options{}, time.Now)
	return bot.New(kb, e.cal, db, payouts, kvs, bot.Options{}, time.Now, e.log), nil
}

// mountBot mounts the official account's callback (/wechat/callback) when an official account
// is configured, and nothing otherwise, with a knowledge base of its own; `huzhu serve` uses
// mountBotWith to share the console's.
func (e *env) mountBot(ctx context.Context, app *fiber.App) error {
	if e.cfg.WeChat.OA.AppID == "" {
		return nil
	}
	rules, err := e.rulebook(ctx, true)
	if err != nil {
		return err
	}
	return e.mountBotWith(ctx, app, rules.KB())
}

// mountBotWith mounts the callback over the knowledge base kb when an official account is
// configured.
func (e *env) mountBotWith(ctx context.Context, app *fiber.App, kb *bot.KB) error {
	if e.cfg.WeChat.OA.AppID == "" {
		return nil
	}
	b, err := e.botOver(ctx, kb)
	if err != nil {
		return err
	}
	wx, err := e.wechatClient(ctx)
	if err != nil {
		return err
	}
	kvs, err := e.openKV(ctx)
	if err != nil {
		return err
	}
	receipts, err := e.dispatcher(ctx, nil)
	if err != nil {
		return err
	}
	followers, err := e.followers(ctx) // not nil: this runs only with an official account
	if err != nil {
		return err
	}
	wxh.New(b, wx, wxh.Options{Mode: e.cfg.WeChat.OA.MessageMode(), Nonces: kvs,
		Followers: followers, Receipts: receipts}, e.log).Mount(app)
	return nil
}

var reTag = regexp.MustCompile(`<[^>]+>`)

// chatCmd is `huzhu chat`: the bot in the terminal, one question per line.
func chatCmd(e *env) *cobra.Command {
	var member uint64
	cmd := &cobra.Command{
		Use:   "chat [--member N]",
		Short: "Talk to the official-account bot in the terminal (the same engine as WeChat)",
		Long: "Type questions as a worker would (我能参加吗, 最多能报多少, 我的钱到了吗); an empty line or Ctrl-D ends.\n" +
			"--member N answers personal questions as the bound member N (e.g. a member of `huzhu serve --demo`).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			// The conversation is on the terminal: only errors may interrupt it.
			e.log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelError}))
			b, err := e.botService(ctx, false)
			if err != nil {
				return err
			}
			if member > 0 {
				db, err := e.openDB(ctx)
				if err != nil {
					return err
				}
				var n int64
				if err := db.WithContext(ctx).Model(&model.Member{}).Where("id = ?", member).Count(&n).Error; err != nil {
					return fmt.Errorf("look up --member %d: %w", member, err)
				}
				if n == 0 {
					return fmt.Errorf("--member %d: no such member (the console's 会员 page lists them; the demo's ids start at 1)", member)
				}
			}
			session := fmt.Sprintf("cli-%d", time.Now().UnixNano())
			who := "未绑定的职工"
			if member > 0 {
				who = fmt.Sprintf("已绑定的会员 %d", member)
			}
			fmt.Fprintf(e.stdout, "互助保障小助手（%s）。直接打字提问，空行或 Ctrl-D 结束。\n", who)
			in := bufio.NewScanner(e.stdin)
			for {
				fmt.Fprint(e.stdout, "> ")
				if !in.Scan() {
					fmt.Fprintln(e.stdout)
					return in.Err()
				}
				line := strings.TrimSpace(in.Text())
				if line == "" {
					return nil
				}
				reply, err := b.Chat(ctx, session, member, line)
				if err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, reTag.ReplaceAllString(reply, ""))
			}
		},
	}
	cmd.Flags().Uint64Var(&member, "member", 0, "answer as the bound member with this id")
	return cmd
}

// wechatCmd is `huzhu wechat`: official-account administration.
func wechatCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "wechat", Short: "Official-account administration"}
	var dry bool
	menu := &cobra.Command{
		Use:   "menu",
		Short: "Publish the official account's menu (wechat.menu from the config, or the built-in one)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			buttons := menuButtons(e.cfg.WeChat, e.cfg.HTTP.PublicURL)
			if dry {
				for _, b := range buttons {
					printButton(e, b, "")
				}
				return nil
			}
			if e.cfg.WeChat.OA.AppID == "" {
				return fmt.Errorf("wechat.oa.app_id is not set: no official account to publish the menu to")
			}
			wx, err := e.wechatClient(cmd.Context())
			if err != nil {
				return err
			}
			if err := wx.CreateMenu(cmd.Context(), buttons); err != nil {
				return fmt.Errorf("publish menu: %w", err)
			}
			fmt.Fprintf(e.stdout, "公众号菜单已发布（%d 个一级菜单），微信客户端可能要几分钟后才显示。\n", len(buttons))
			return nil
		},
	}
	menu.Flags().BoolVar(&dry, "dry-run", false, "print the menu instead of publishing it")
	cmd.AddCommand(menu, backfillFollowersCmd(e), sayCmd(e))
	return cmd
}

// backfillFollowersCmd is `huzhu wechat backfill-followers`: link the official account's
// existing followers to their workers (user/get, then user/info/batchget for the unlinked).
func backfillFollowersCmd(e *env) *cobra.Command {
	var o member.BackfillOptions
	cmd := &cobra.Command{
		Use:   "backfill-followers [--max-calls N] [--restart]",
		Short: "Link existing official-account followers to bound workers through their unionid (resumable)",
		Long: "Pages through the official account's followers (user/get, 10,000 a page) and fetches the unionid of\n" +
			"those not linked yet (user/info/batchget, 100 a call). It stops after --max-calls WeChat calls or at a\n" +
			"quota error and saves where it stopped; run it again (the next day for a quota) to go on.\n" +
			"Unionids exist only when the official account and the mini-program are bound to one WeChat Open\n" +
			"Platform account (open.weixin.qq.com → 管理中心 → 绑定公众号/小程序).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if e.cfg.WeChat.OA.AppID == "" {
				return fmt.Errorf("wechat.oa.app_id is not set: no official account to read followers from")
			}
			followers, err := e.followers(ctx)
			if err != nil {
				return err
			}
			res, err := followers.Backfill(ctx, o)
			fmt.Fprintf(e.stdout, "关注者 %d 人；本次查看 %d 人，查询 %d 人，关联 %d 人，无 unionid %d 人；调用微信接口 %d 次。\n",
				res.Total, res.Checked, res.Looked, res.Linked, res.NoUnion, res.Calls)
			switch {
			case err != nil:
				return fmt.Errorf("backfill followers (stopped: %s; run again to go on): %w", res.Stopped, err)
			case res.Done:
				fmt.Fprintln(e.stdout, "已处理完全部关注者。")
			default:
				fmt.Fprintf(e.stdout, "未处理完（%s），进度已保存，再次运行本命令会接着处理。\n", res.Stopped)
			}
			if res.Looked > 0 && res.Linked == 0 {
				fmt.Fprintln(e.stdout, "注意：微信没有返回任何 unionid，请确认公众号和小程序已绑定到同一个微信开放平台帐号。")
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&o.MaxCalls, "max-calls", 2000, "stop after this many WeChat calls (daily quotas are shared)")
	cmd.Flags().BoolVar(&o.Restart, "restart", false, "forget the saved position and start from the first follower")
	return cmd
}

func printButton(e *env, b wechat.Button, indent string) {
	fmt.Fprintf(e.stdout, "%s%s %s %s%s%s\n", indent, b.Name, b.Type, b.Key, b.URL, b.PagePath)
	for _, s := range b.Sub {
		printButton(e, s, indent+"  ")
	}
}

// menuButtons converts the configured menu, or builds the default one: 查到账, 估算 and a 更多
// sub-menu with 常见问题, 转人工 and, when a mini-program is configured, 绑定京卡 (publicURL is its
// fallback for clients without mini-programs). The click keys are the bot's.
func menuButtons(w config.WeChat, publicURL string) []wechat.Button {
	if len(w.Menu) > 0 {
		out := make([]wechat.Button, len(w.Menu))
		for i, m := range w.Menu {
			out[i] = menuButton(m, w.MP.AppID)
		}
		return out
	}
	more := wechat.Button{Name: "更多", Sub: []wechat.Button{
		{Type: "click", Name: "常见问题", Key: bot.MenuKeyFAQ},
		{Type: "click", Name: "转人工", Key: bot.MenuKeyHuman},
	}}
	if w.MP.AppID != "" {
		more.Sub = append(more.Sub, wechat.Button{Type: "miniprogram", Name: "绑定京卡", AppID: w.MP.AppID, PagePath: bindPage,
			URL: publicURL})
	}
	return []wechat.Button{
		{Type: "click", Name: "查到账", Key: bot.MenuKeyArrival},
		{Type: "click", Name: "估算", Key: bot.MenuKeyEstimate},
		more,
	}
}

func menuButton(m config.MenuButton, mpAppID string) wechat.Button {
	b := wechat.Button{Type: m.Type, Name: m.Name, Key: m.Key, URL: m.URL, PagePath: m.PagePath}
	if m.Type == "miniprogram" {
		b.AppID = mpAppID
	}
	for _, s := range m.Sub {
		b.Sub = append(b.Sub, menuButton(s, mpAppID))
	}
	return b
}
