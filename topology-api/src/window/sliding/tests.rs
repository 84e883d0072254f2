use super::*;
use std::time::Duration;

fn ms(n: u64) -> Extent {
    Extent::Duration(Duration::from_millis(n))
}

/// Each fired window as (tuples, new, expired).
fn shapes(fired: &[Fired<u32>]) -> Vec<(Vec<u32>, Vec<u32>, Vec<u32>)> {
    fired
        .iter()
        .map(|f| (f.tuples.clone(), f.new.clone(), f.expired.clone()))
        .collect()
}

fn add_all(
    w: &mut SlidingWindows<u32>,
    items: impl IntoIterator<Item = (i64, u32)>,
) -> Vec<Fired<u32>> {
    let mut fired = Vec::new();
    for (ts, item) in items {
        fired.extend(w.add(ts, item).unwrap());
    }
    fired
}

#[test]
fn tumbling_count_windows_fire_every_n_tuples_and_expire_the_previous_window() {
    let mut w = SlidingWindows::new(Extent::Count(3), Extent::Count(3), false);
    let fired = add_all(&mut w, (1..=7).map(|i| (i as i64, i)));
    assert_eq!(
        shapes(&fired),
        [
            (vec![1, 2, 3], vec![1, 2, 3], vec![]),
            (vec![4, 5, 6], vec![4, 5, 6], vec![1, 2, 3]),
        ]
    );
    assert_eq!(w.len(), 4); // 4, 5, 6 until the next window; 7 waiting
}

#[test]
fn sliding_count_windows_hold_the_last_n_and_expire_what_falls_off() {
    let mut w = SlidingWindows::new(Extent::Count(4), Extent::Count(2), false);
    let fired = add_all(&mut w, (1..=8).map(|i| (i as i64, i)));
    assert_eq!(
        shapes(&fired),
        [
            (vec![1, 2], vec![1, 2], vec![]),
            (vec![1, 2, 3, 4], vec![3, 4], vec![]),
            (vec![3, 4, 5, 6], vec![5, 6], vec![1, 2]),
            (vec![5, 6, 7, 8], vec![7, 8], vec![3, 4]),
        ]
    );
}

#[test]
fn processing_time_windows_fire_on_their_schedule_back_to_back() {
    // 100 ms windows every 50 ms; the clock starts at 1000, so windows end at 1049, 1099, ...
    let mut w = SlidingWindows::new(ms(100), ms(50), false);
    assert!(w.tick(1000).is_empty());
    add_all(&mut w, [(1000, 1), (1040, 2)]);
    // Due at 1049, evaluated once the clock is past it: a tuple stamped 1049 may still come.
    assert!(w.tick(1049).is_empty());
    let first = w.tick(1050);
    assert_eq!(shapes(&first), [(vec![1, 2], vec![1, 2], vec![])]);
    assert_eq!((first[0].start, first[0].end), (949, 1049));
    add_all(&mut w, [(1060, 3), (1090, 4)]);
    // Ticked late (at 1104): the window still ends at 1099, and 5 (at 1102) waits for the next.
    add_all(&mut w, [(1102, 5)]);
    let second = w.tick(1104);
    assert_eq!(shapes(&second), [(vec![1, 2, 3, 4], vec![3, 4], vec![])]);
    assert_eq!(second[0].end, 1099);
    // (1049, 1149]: 1 and 2 leave, acked after this window.
    assert_eq!(
        shapes(&w.tick(1150)),
        [(vec![3, 4, 5], vec![5], vec![1, 2])]
    );
    // Two windows due at once: (1099, 1199] holds 5 only; (1149, 1249] nothing, and 5 expires.
    assert_eq!(
        shapes(&w.tick(1250)),
        [(vec![5], vec![], vec![3, 4]), (vec![], vec![], vec![5])]
    );
    assert!(w.is_empty());
    // A long stall: the tuple held is still evaluated in its windows, and the empty ones
    // after it are skipped.
    add_all(&mut w, [(1260, 6)]);
    let after = w.tick(100_000);
    assert_eq!(
        shapes(&after),
        [
            (vec![6], vec![6], vec![]),
            (vec![6], vec![], vec![]),
            (vec![], vec![], vec![6])
        ]
    );
    assert_eq!(after[0].end, 1299);
}

#[test]
fn a_count_length_with_a_time_slide_holds_the_last_n_at_each_tick() {
    let mut w = SlidingWindows::new(Extent::Count(2), ms(10), false);
    w.tick(0); // windows end at 9, 19, ...
    add_all(&mut w, [(1, 1), (2, 2), (3, 3)]);
    assert_eq!(shapes(&w.tick(10)), [(vec![2, 3], vec![2, 3], vec![1])]);
    // A tuple stamped at a window's end, arriving in that millisecond, is in that window.
    add_all(&mut w, [(19, 4)]);
    assert!(w.tick(19).is_empty());
    add_all(&mut w, [(19, 5)]);
    assert_eq!(shapes(&w.tick(20)), [(vec![4, 5], vec![4, 5], vec![2, 3])]);
}

#[test]
fn event_time_windows_wait_for_the_watermark_and_sort_out_of_order_tuples() {
    // Tumbling 10 ms windows in event time.
    let mut w = SlidingWindows::new(ms(10), ms(10), true);
    add_all(&mut w, [(13, 13), (11, 11), (25, 25), (19, 19), (20, 20)]);
    // Nothing until the watermark passes a window's end.
    assert!(w.advance(20).is_empty()); // (10, 20] ends at 20: not yet past it
    let fired = w.advance(21);
    assert_eq!(
        shapes(&fired),
        [(vec![11, 13, 19, 20], vec![11, 13, 19, 20], vec![])]
    );
    assert_eq!((fired[0].start, fired[0].end), (10, 20));
    // A tuple older than the watermark is late and comes back.
    let late = w.add(15, 15).unwrap_err();
    assert_eq!((late.item, late.ts, late.watermark), (15, 15, 21));
    // 21 is not late: it is at the watermark.
    w.add(21, 21).unwrap();
    let fired = w.advance(31);
    assert_eq!(
        shapes(&fired),
        [(vec![21, 25], vec![21, 25], vec![11, 13, 19, 20])]
    );
}

#[test]
fn event_time_skips_windows_with_nothing_new_and_starts_on_the_grid() {
    // Sliding: 20 ms windows every 10 ms.
    let mut w = SlidingWindows::new(ms(20), ms(10), true);
    add_all(&mut w, [(5, 5), (7, 7), (95, 95)]);
    let fired = w.advance(200);
    let ends: Vec<i64> = fired.iter().map(|f| f.end).collect();
    // (−10, 10] and (0, 20] hold 5 and 7; the empty windows up to 95's are skipped; then
    // (80, 100] and (90, 110] hold 95.
    assert_eq!(ends, [10, 20, 100, 110]);
    assert_eq!(
        shapes(&fired),
        [
            (vec![5, 7], vec![5, 7], vec![]),
            (vec![5, 7], vec![], vec![]),
            (vec![95], vec![95], vec![5, 7]),
            (vec![95], vec![], vec![]),
        ]
    );
}

#[test]
fn count_windows_in_event_time_count_tuples_in_timestamp_order() {
    let mut w = SlidingWindows::new(Extent::Count(2), Extent::Count(2), true);
    add_all(&mut w, [(4, 4), (1, 1), (3, 3), (2, 2), (9, 9)]);
    let fired = w.advance(5);
    assert_eq!(
        shapes(&fired),
        [
            (vec![1, 2], vec![1, 2], vec![]),
            (vec![3, 4], vec![3, 4], vec![1, 2])
        ]
    );
    // 9 waits for a second tuple behind the watermark.
    assert!(w.advance(10).is_empty());
    w.add(10, 10).unwrap();
    assert_eq!(
        shapes(&w.advance(11)),
        [(vec![9, 10], vec![9, 10], vec![3, 4])]
    );
}

#[test]
fn gapped_windows_expire_tuples_that_fall_between_them() {
    // 5 ms windows every 10 ms: tuples in (10k, 10k + 5] are in no window.
    let mut w = SlidingWindows::new(ms(5), ms(10), true);
    add_all(&mut w, [(3, 3), (7, 7), (12, 12), (18, 18)]);
    let fired = w.advance(100);
    assert_eq!(
        shapes(&fired),
        [
            (vec![7], vec![7], vec![3]),
            (vec![18], vec![18], vec![7, 12])
        ]
    );
    let ends: Vec<i64> = fired.iter().map(|f| f.end).collect();
    assert_eq!(ends, [10, 20]);
}

proptest::proptest! {
    /// Whatever the order and the watermarks, every tuple that is not late is in at least
    /// one evaluated window or expires, is expired exactly once, and is never in a window
    /// after it expired; each window's tuples are in timestamp order.
    #[test]
    fn every_tuple_expires_once_and_never_returns(
        length in 1u64..40,
        slide in 1u64..40,
        by_count in proptest::bool::ANY,
        ts in proptest::collection::vec(0i64..200, 0..60),
        steps in proptest::collection::vec(0i64..30, 1..20),
    ) {
        let (l, s) = if by_count {
            (Extent::Count(length), Extent::Count(slide))
        } else {
            (ms(length), ms(slide))
        };
        let mut w = SlidingWindows::new(l, s, true);
        let mut fired = Vec::new();
        let mut late = Vec::new();
        let mut watermark = 0;
        let mut pending = ts.iter().enumerate();
        for step in steps {
            for _ in 0..3 {
                if let Some((i, t)) = pending.next() {
                    match w.add(*t, i as u32) {
                        Ok(f) => fired.extend(f),
                        Err(l) => late.push(l.item),
                    }
                }
            }
            watermark += step;
            fired.extend(w.advance(watermark));
        }
        for (i, t) in pending {
            match w.add(*t, i as u32) {
                Ok(f) => fired.extend(f),
                Err(l) => late.push(l.item),
            }
        }
        fired.extend(w.advance(10_000));
        let mut expired = std::collections::HashSet::new();
        for f in &fired {
            for t in &f.tuples {
                proptest::prop_assert!(!expired.contains(t), "{} in a window after expiring", t);
            }
            for t in &f.expired {
                proptest::prop_assert!(expired.insert(*t), "{} expired twice", t);
            }
            let times: Vec<i64> = f.tuples.iter().map(|t| ts[*t as usize]).collect();
            proptest::prop_assert!(times.windows(2).all(|p| p[0] <= p[1]));
        }
        // The rest wait in the windows (a count slide not yet full).
        let unaccounted = (0..ts.len() as u32)
            .filter(|i| !late.contains(i))
            .filter(|i| !expired.contains(i) && !fired.iter().any(|f| f.tuples.contains(i)))
            .count();
        proptest::prop_assert!(unaccounted <= w.len());
    }
}

proptest::proptest! {
    /// Processing time, as a task runs it: tuples stamped with a clock that only moves
    /// forward, ticks in between. With a length of m slides each tuple is in exactly m
    /// windows (one when tumbling), and only expires after the last.
    #[test]
    fn every_tuple_lands_in_each_of_its_windows_in_processing_time(
        slide in 1u64..50,
        m in 1u64..4,
        steps in proptest::collection::vec((0i64..20, proptest::bool::ANY), 1..200),
    ) {
        let mut w = SlidingWindows::new(ms(slide * m), ms(slide), false);
        let mut now = 1_000;
        let mut fired = w.tick(now);
        let mut added = 0u32;
        for (advance, add) in steps {
            now += advance;
            if add {
                fired.extend(w.add(now, added).unwrap());
                added += 1;
            } else {
                fired.extend(w.tick(now));
            }
        }
        fired.extend(w.tick(now + 10_000));
        fired.extend(w.tick(now + 20_000));
        let mut seen = vec![0u32; added as usize];
        let mut expired = std::collections::HashSet::new();
        for f in &fired {
            for t in &f.expired {
                proptest::prop_assert!(seen[*t as usize] == m as u32, "{} expired after {} windows", t, seen[*t as usize]);
                expired.insert(*t);
            }
            for t in &f.tuples {
                seen[*t as usize] += 1;
            }
        }
        proptest::prop_assert!(seen.iter().all(|&n| n == m as u32), "windows per tuple: {:?}", seen);
    }
}
