package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envAnnotation marks a flag that stands for a configuration key: its value is the HUZHU_*
// variable the flag overrides (set with cmd.Flags().SetAnnotation).
const envAnnotation = "huzhu_env"

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "huzhu",
		Short:         "huzhu: 在职职工医疗互助保障计划 backend (mini-program API, bot, settlement, notices, console)",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			// The demo is synthetic data on generated keys: it always runs in dev, whatever
			// HUZHU_ENV says (the Docker image sets prod so that a plain run is production).
			if f := cmd.Flags().Lookup("demo"); cmd.Name() == "demo" || (f != nil && f.Value.String() == "true") {
				e.override("HUZHU_ENV", "dev")
			}
			cmd.Flags().Visit(func(f *pflag.Flag) {
				if keys := f.Annotations[envAnnotation]; len(keys) == 1 {
					e.override(keys[0], f.Value.String())
				}
			})
			return e.load()
		},
		PersistentPostRun: func(cmd *cobra.Command, args []string) { e.close() },
	}
	root.PersistentFlags().StringVarP(&e.configPath, "config", "c", "", "YAML config file (default: $HUZHU_CONFIG, else built-in defaults)")
	root.PersistentFlags().StringVar(&e.as, "as", "", "the console account a command that changes data acts as (its role and union apply)")
	root.PersistentFlags().StringVar(&e.breakGlass, "break-glass", "", "act as an admin without an account, for REASON (audited as break glass): only when no admin can log in")
	root.AddCommand(
		serveCmd(e),
		migrateCmd(e),
		configCmd(e),
		versionCmd(e),
		healthcheckCmd(e),
		workerCmd(e),
		notifyCmd(e),
		settleCmd(e),
		payCmd(e),
		demoCmd(e),
		importCmd(e),
		chatCmd(e),
		statsCmd(e),
		wechatCmd(e),
		adminCmd(e),
		faqCmd(e),
	)
	return root
}

// oneArg accepts exactly one argument. Cobra's own check said only "accepts 1 arg(s), received
// 0"; this names the argument from the command's usage line, e.g. "huzhu import template: give
// roster|medical".
func oneArg(cmd *cobra.Command, args []string) error {
	if len(args) == 1 {
		return nil
	}
	want := strings.TrimSpace(strings.TrimPrefix(cmd.Use, cmd.Name()))
	if i := strings.IndexAny(want, " ("); i > 0 {
		want = want[:i]
	}
	path := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ") // main prefixes "huzhu:"
	if len(args) == 0 {
		return fmt.Errorf("%s: give %s (see %s --help)", path, want, cmd.CommandPath())
	}
	return fmt.Errorf("%s: give one %s, not %d arguments (see %s --help)", path, want, len(args), cmd.CommandPath())
}
