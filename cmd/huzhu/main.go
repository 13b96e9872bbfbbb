// Command huzhu is the backend of the Beijing trade unions' medical mutual-aid plan (在职职工医疗
// 互助保障计划, "二次报销"): the mini-program API, the official-account bot, the settlement and
// payment pipeline, the notice dispatcher and the staff console, in one binary with subcommands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // Asia/Shanghai on machines without zoneinfo

	"github.com/redis/go-redis/v9"
)

func main() {
	// go-redis prints its connection pool's dial failures to stderr by itself, in its own format,
	// before the error reaches us: four lines of internals ahead of the one clear message. Every
	// Redis error is returned to the caller, which reports or logs it once.
	redis.SetLogger(quietRedis{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "huzhu:", err)
		os.Exit(1)
	}
}

// run builds the command tree and executes it; everything the process needs comes in as
// arguments, so tests can run subcommands in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := newRoot(&env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr})
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

// quietRedis drops go-redis's internal log lines (a process-wide hook, so it is set in main).
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}
