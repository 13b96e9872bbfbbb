package main

import (
	"github.com/spf13/cobra"
)

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "huzhu",
		Short:         "huzhu: 在职职工医疗互助保障计划 backend (mini-program API, bot, settlement, notices, console)",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
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
