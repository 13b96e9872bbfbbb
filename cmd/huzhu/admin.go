package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/spf13/cobra"

	"huzhu/handler/admin"
	"huzhu/model"
	"huzhu/service/importer"
	"huzhu/service/job"
	"huzhu/service/member"
	"huzhu/service/payment"
	"huzhu/service/rulebook"
	"huzhu/service/staff"
	"huzhu/service/stats"
)

// staffService builds the staff accounts service over the configured stores.
func (e *env) staffService(ctx context.Context) (*staff.Service, error) {
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
	// Production asks admins and operators, who approve and export money, for a second factor.
	return staff.New(db, kvs, staff.Options{Cipher: cipher, RequireTOTP: e.cfg.Env == "prod"}, time.Now, e.log), nil
}

// mountAdmin adds the staff console at /admin with a knowledge base of its own; `huzhu serve`
// uses mountConsole to share one with the bot.
func (e *env) mountAdmin(ctx context.Context, app *fiber.App) error {
	rules, err := e.rulebook(ctx, true)
	if err != nil {
		return err
	}
	return e.mountConsole(ctx, app, rules)
}

// mountConsole adds the staff console at /admin over the process's rules (policy engine and
// knowledge base), which staff edit there.
func (e *env) mountConsole(ctx context.Context, app *fiber.App, rules *rulebook.Service) error {
	db, err := e.openDB(ctx)
	if err != nil {
		return err
	}
	kvs, err := e.openKV(ctx)
	if err != nil {
		return err
	}
	cipher, err := e.piiCipher()
	if err != nil {
		return err
	}
	engine, err := e.policyEngine(ctx)
	if err != nil {
		return err
	}
	settle, cal, err := e.settlementService(ctx)
	if err != nil {
		return err
	}
	accounts, err := e.staffService(ctx)
	if err != nil {
		return err
	}
	// The console's dispatcher only reads and re-queues the outbox; it registers no metrics so
	// that it does not clash with the sending dispatcher of the same process.
	notices, err := e.dispatcher(ctx, nil)
	if err != nil {
		return err
	}
	// Imports, runs, exports and bank results run as jobs of this process. Jobs left live by a
	// process that stopped are marked interrupted now; this process's own are interrupted, and
	// recorded so, once the server has drained at shutdown.
	jobs := job.New(db, cipher, job.Options{}, time.Now, e.log)
	if _, err := jobs.Recover(ctx); err != nil {
		return err
	}
	app.Hooks().OnShutdown(func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return jobs.Shutdown(sctx)
	})
	var demoWX admin.DemoWeChat // a nil interface unless the stand-in WeChat runs
	if e.fakeWX != nil {
		demoWX = e.fakeWX
	}
	followers, err := e.followers(ctx)
	if err != nil {
		return err
	}
	members := e.members
	if members == nil { // a console without the mini-program API in this process
		members = member.New(db, cipher, nil, nil, kvs, nil, member.Options{}, time.Now, e.log)
	}
	a, err := admin.New(admin.Deps{
		Followers:     followers,
		Staff:         accounts,
		Members:       members,
		Settlement:    settle,
		Payment:       payment.New(db, cipher, cal, time.Now, e.log),
		Importer:      importer.New(db, cipher, importer.Options{}, time.Now, e.log),
		Stats:         stats.New(db, kvs, time.Minute, time.Now),
		Notices:       notices,
		FAQ:           rules.KB(),
		Policy:        engine,
		Rules:         rules,
		Calendar:      e.cal,
		Jobs:          jobs,
		Claims:        e.claims,
		DemoWeChat:    demoWX,
		SecureCookies: strings.HasPrefix(e.cfg.HTTP.PublicURL, "https://"),
		Log:           e.log,
	})
	if err != nil {
		return err
	}
	a.Mount(app)
	return nil
}

func adminCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Manage staff accounts of the console at /admin"}
	var u staff.NewUser
	var role, passwordFile string
	create := &cobra.Command{
		Use:   "create-user",
		Short: "Create a staff account; the password is read from --password-file or the first line of stdin. The first admin needs no --as; every later account is created --as an admin and must change its password at first login",
		Example: "  printf '%s\\n' \"$PASSWORD\" | huzhu admin create-user --username admin --role admin --display-name 市总管理员\n" +
			"  huzhu --as admin admin create-user --username u1 --role union --union-code U0001 --password-file pw.txt",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u.Role = model.Role(role)
			pw, err := readPassword(e.stdin, passwordFile)
			if err != nil {
				return err
			}
			u.Password = pw
			s, err := e.staffService(cmd.Context())
			if err != nil {
				return err
			}
			var row model.AdminUser
			if e.as == "" && e.breakGlass == "" {
				row, err = s.Bootstrap(cmd.Context(), u, e.osUser())
			} else {
				who, werr := e.staffActor(cmd)
				if werr != nil {
					return werr
				}
				row, err = s.CreateAccount(cmd.Context(), who, u)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "created staff account %s (id %d, role %s %s)\n", row.Username, row.ID, row.Role, row.Role.Label())
			return nil
		},
	}
	create.Flags().StringVar(&u.Username, "username", "", "login name (required)")
	create.Flags().StringVar(&role, "role", "", "admin | operator | union | auditor (required)")
	create.Flags().StringVar(&u.UnionCode, "union-code", "", "工会编码, required for --role union")
	create.Flags().StringVar(&u.DisplayName, "display-name", "", "name shown in the console")
	create.Flags().StringVar(&passwordFile, "password-file", "", "file whose first line is the password (default: stdin)")
	_ = create.MarkFlagRequired("username")
	_ = create.MarkFlagRequired("role")
	cmd.AddCommand(create)
	return cmd
}

// readPassword returns the first line of the file, or of stdin without a file: never a flag,
// which would leave the password in the shell history and the process list.
func readPassword(stdin io.Reader, path string) (string, error) {
	r := stdin
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		defer f.Close()
		r = f
	}
	if r == nil {
		return "", errors.New("no password: pipe it on stdin or use --password-file")
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password: pipe it on stdin or use --password-file")
	}
	return pw, nil
}
