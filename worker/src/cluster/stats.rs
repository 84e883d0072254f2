//! Executor counters as they travel to the supervisor and on to Nimbus.

use squall_proto::pb::ExecutorStats as WireStats;

use crate::assembly::RunningExecutor;

/// The wire form of every executor's counters and complete-latency histogram.
pub(crate) fn wire_stats(executors: &[RunningExecutor]) -> Vec<WireStats> {
    executors
        .iter()
        .map(|e| {
            let c = e.stats.snapshot();
            let histogram = e.stats.complete_latency_us();
            let (latency_us, latency_counts) = histogram
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .unzip();
            WireStats {
                component: e.plan.component.clone(),
                tasks: e.plan.tasks.clone(),
                emitted: c.emitted,
                transferred: c.transferred,
                acked: c.acked,
                failed: c.failed,
                executed: c.executed,
                errors: c.errors,
                last_error: e
                    .stats
                    .errors()
                    .last()
                    .map(|r| r.message.clone())
                    .unwrap_or_default(),
                latency_us,
                latency_counts,
            }
        })
        .collect()
}
