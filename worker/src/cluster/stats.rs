//! Executor counters and latency histograms as they travel to the supervisor and on to Nimbus.

use hdrhistogram::Histogram;
use squall_proto::pb;

use crate::assembly::RunningExecutor;
use crate::stats::LatencyKind;

/// The wire form of every executor's counters, errors and latency histograms.
pub(crate) fn wire_stats(executors: &[RunningExecutor]) -> Vec<pb::ExecutorStats> {
    executors
        .iter()
        .map(|e| {
            let c = e.stats.snapshot();
            let histogram = |kind| Some(wire_histogram(&e.stats.latency_ns(kind)));
            pb::ExecutorStats {
                component: e.plan.component.clone(),
                tasks: e.plan.tasks.clone(),
                emitted: c.emitted,
                transferred: c.transferred,
                acked: c.acked,
                failed: c.failed,
                executed: c.executed,
                errors: c.errors,
                recent_errors: e
                    .stats
                    .errors()
                    .into_iter()
                    .map(|r| pb::ErrorReport {
                        time_ms: r
                            .time
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_millis() as u64),
                        task: r.task,
                        message: r.message,
                        host: String::new(),
                        port: 0,
                    })
                    .collect(),
                complete_latency: histogram(LatencyKind::Complete),
                execute_latency: histogram(LatencyKind::Execute),
                process_latency: histogram(LatencyKind::Process),
                streams: e
                    .stats
                    .streams()
                    .into_iter()
                    .map(|s| pb::StreamCounts {
                        stream: s.stream,
                        emitted: s.emitted,
                        transferred: s.transferred,
                    })
                    .collect(),
                queue_depth: e.stats.queue_depth(),
                pending: c.pending,
                inputs: e
                    .stats
                    .inputs()
                    .into_iter()
                    .map(|i| pb::InputStreamCounts {
                        component: i.component,
                        stream: i.stream,
                        executed: i.executed,
                        acked: i.acked,
                        failed: i.failed,
                    })
                    .collect(),
            }
        })
        .collect()
}

fn wire_histogram(h: &Histogram<u64>) -> pb::Histogram {
    let (values, counts) = h
        .iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .unzip();
    pb::Histogram { values, counts }
}
