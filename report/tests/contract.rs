//! The contract's promise to readers: a report written by a newer grader, with fields
//! this version does not know, still reads; and a report of schema version 1 as the
//! grader writes it today reads back to the same value.

const SNAPSHOT: &str = include_str!("../../grader/src/report/snapshots/report.json");

#[test]
fn the_committed_report_snapshot_reads_and_writes_back_unchanged() {
    let report = grader_report::from_json(SNAPSHOT).expect("the snapshot reads");
    assert_eq!(report.schema_version, grader_report::SCHEMA_VERSION);
    assert_eq!(grader_report::to_json(&report), SNAPSHOT);
}

#[test]
fn a_newer_report_with_unknown_fields_still_reads() {
    let mut value: serde_json::Value = serde_json::from_str(SNAPSHOT).unwrap();
    value["added_in_a_later_version"] = serde_json::json!({"anything": [1, 2, 3]});
    value["checks"][0]["new_check_field"] = serde_json::json!("x");
    if let Some(failure) = value["checks"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| !c["failure"].is_null())
    {
        failure["failure"]["new_failure_field"] = serde_json::json!(7);
    }
    let text = serde_json::to_string(&value).unwrap();
    let read = grader_report::from_json(&text).expect("unknown fields are ignored");
    let plain = grader_report::from_json(SNAPSHOT).unwrap();
    assert_eq!(read, plain, "unknown fields change nothing that is read");
}

#[test]
fn the_exit_code_follows_whose_fault_it_was() {
    use grader_report::{Fault, exit};
    assert_eq!(Fault::Submission.exit_code(), exit::SUBMISSION_BROKEN);
    assert_eq!(Fault::Exercise.exit_code(), exit::BAD_INPUT);
    assert_eq!(Fault::Grader.exit_code(), exit::GRADER_FAILED);
    let mut report = grader_report::from_json(SNAPSHOT).unwrap();
    report.status = grader_report::RunStatus::BuildFailed;
    assert_eq!(exit::for_report(&report), exit::SUBMISSION_BROKEN);
    report.status = grader_report::RunStatus::Error;
    assert_eq!(exit::for_report(&report), exit::GRADER_FAILED);
}
