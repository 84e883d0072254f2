//! Process CPU time, for the benchmarks' "cores used" (CPU seconds per wall second).

/// CPU seconds (user + system) this process has used, from `/proc/self/stat`; 0 where that
/// file does not exist.
pub fn process_cpu_secs() -> f64 {
    cpu_secs_from(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// CPU seconds another process has used so far; 0 once it is gone.
pub fn pid_cpu_secs(pid: u32) -> f64 {
    cpu_secs_from(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default())
}

/// CPU seconds the live children of process `pid` have used so far (shell components'
/// processes, for example).
pub fn children_cpu_secs(pid: u32) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|child| std::fs::read_to_string(format!("/proc/{child}/stat")).ok())
        .filter(|stat| parent_of(stat) == Some(pid))
        .map(|stat| cpu_secs_from(&stat))
        .sum()
}

/// The parent pid in a `/proc/PID/stat` line (field 4).
fn parent_of(stat: &str) -> Option<u32> {
    let rest = stat.rsplit_once(") ")?.1;
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn cpu_secs_from(stat: &str) -> f64 {
    // Fields after the command name, which is in parentheses and may contain spaces; utime
    // and stime are fields 14 and 15 of the full line; USER_HZ is 100 on Linux.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
