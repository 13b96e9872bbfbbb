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
			// The demo is synthetic data on generated keys: it always runs in dev, whatever
			// HUZHU_ENV says (the Docker image sets prod so that a plain run is production).
			if f := cmd.Flags().Lookup("demo"); cmd.Name() == "demo" || (f != nil && f.Value.String() == "true") {
				e.demo = true
			}
			return e.load()
		},
		PersistentPostRun: func(cmd *cobra.Command, args []string) { e.close() },
	}
	root.PersistentFlags().StringVarP(&e.configPath, "config", "c", "", "YAML config file (default: $HUZHU_CONFIG, else built-in defaults)")
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
