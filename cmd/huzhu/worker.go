package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// workerCmd is `huzhu worker`: a process that only dispatches notices, for scale-out next to
// `huzhu serve`. Any number may run; they share the database and the Redis rate limit.
func workerCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Run the arrival-notice dispatcher only (any number of workers may run)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !e.cfg.Notify.Enabled {
				return fmt.Errorf("notify.enabled is false: this worker would have nothing to do")
			}
			d, err := e.dispatcher(cmd.Context(), nil)
			if err != nil {
				return err
			}
			return d.Run(cmd.Context())
		},
	}
}
