use super::*;

#[test]
fn names_are_what_istiods_index_looks_up() {
    assert_eq!(address_name("", "10.0.0.1".parse().unwrap()), "/10.0.0.1");
    assert_eq!(address_name("net-a", "fd00::1".parse().unwrap()), "net-a/fd00::1");
    assert_eq!(service_name("default", "echo.default.svc.cluster.local"), "default/echo.default.svc.cluster.local");
    assert_eq!(pod_uid("Kubernetes", "default", "client"), "Kubernetes//Pod/default/client");
}

#[test]
fn first_miss_queues_concurrent_misses_join_answered_names_are_not_requested_again() {
    let mut book = DemandBook::default();
    let Admission::Queued(mut first) = book.admit("/10.0.0.1") else { panic!("first miss sends") };
    let Admission::Joined(mut second) = book.admit("/10.0.0.1") else { panic!("second miss shares") };
    let Admission::Queued(_other) = book.admit("/10.0.0.2") else { panic!("another name sends") };
    assert_eq!(book.take_queue(), vec!["/10.0.0.1", "/10.0.0.2"]);
    assert!(book.take_queue().is_empty(), "each name is sent once");

    // Nothing is answered by an unrelated name.
    assert!(book.answered(["/10.0.0.9"]).is_empty());
    assert!(first.try_recv().is_err() && second.try_recv().is_err());
    assert_eq!(book.answered(["/10.0.0.1"]), vec!["/10.0.0.1"]);
    assert_eq!(first.try_recv(), Ok(()));
    assert_eq!(second.try_recv(), Ok(()));
    assert!(!book.is_pending("/10.0.0.1") && book.is_pending("/10.0.0.2"));

    // Answered once: the state is the answer; no second request (istiod would not reply to
    // a subscription that changes nothing).
    assert!(matches!(book.admit("/10.0.0.1"), Admission::Answered));
    assert!(book.take_queue().is_empty());
}

#[test]
fn resubscription_covers_every_requested_name_and_the_queue() {
    let mut book = DemandBook::default();
    let _a = book.admit("/10.0.0.1");
    book.take_queue();
    book.answered(["/10.0.0.1"]);
    let _b = book.admit("default/echo.default.svc.cluster.local");
    // Queued but the stream broke before it was sent: the new stream's initial request
    // carries it, so it must not be sent again as well.
    assert_eq!(book.resubscribe(), vec!["/10.0.0.1", "default/echo.default.svc.cluster.local"]);
    assert!(book.take_queue().is_empty());
    assert!(book.is_pending("default/echo.default.svc.cluster.local"), "still waits for the new stream's answer");
    assert_eq!(book.requested_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn demand_waits_for_the_answer_and_dedups() {
    let d = Demander::new(DEMAND_WAIT, Arc::default());
    let (a, b) = (d.clone(), d.clone());
    let first = tokio::spawn(async move { a.demand("/10.0.0.1").await });
    let second = tokio::spawn(async move { b.demand("/10.0.0.1").await });
    d.queued().await;
    tokio::task::yield_now().await;
    assert_eq!(d.take_queue(), vec!["/10.0.0.1"], "one request for both");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!first.is_finished() && !second.is_finished(), "both wait for istiod");
    d.answered(&["/10.0.0.1".to_string()], &[]);
    assert_eq!(first.await.unwrap(), Ok(()));
    assert_eq!(second.await.unwrap(), Ok(()));
    assert_eq!(d.metrics().get("found"), 1);
    // Known now: answered at once, nothing queued.
    assert_eq!(d.demand("/10.0.0.1").await, Ok(()));
    assert!(d.take_queue().is_empty());
}

#[tokio::test(start_paused = true)]
async fn unanswered_demand_times_out_with_a_precise_error() {
    let d = Demander::new(Duration::from_secs(5), Arc::default());
    let start = tokio::time::Instant::now();
    let err = d.demand("/10.9.9.9").await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(err, DemandError::Timeout { name: "/10.9.9.9".into(), after: Duration::from_secs(5) });
    assert!(err.to_string().contains("did not answer the request for \"/10.9.9.9\" within 5s"), "{err}");
    assert_eq!(d.metrics().get("timeout"), 1);
    // A late answer after the waiter gave up is harmless.
    d.answered(&[], &["/10.9.9.9".to_string()]);
    assert_eq!(d.metrics().get("not_found"), 1);
}

#[tokio::test]
async fn removed_names_count_as_not_found() {
    let d = Demander::new(DEMAND_WAIT, Arc::default());
    let d2 = d.clone();
    let t = tokio::spawn(async move { d2.demand("/10.0.0.7").await });
    d.queued().await;
    while !d.is_pending("/10.0.0.7") {
        tokio::task::yield_now().await;
    }
    d.answered(&[], &["/10.0.0.7".to_string()]);
    assert_eq!(t.await.unwrap(), Ok(()), "answered: the caller looks again and routes as without on-demand");
    assert_eq!(d.metrics().get("not_found"), 1);
    assert_eq!(d.metrics().get("found"), 0);
}
