//! Reading a Prometheus `/api/v1/query` answer into one number. An empty vector, NaN or an
//! infinity is "no data", never a value that could pass. Pure.

use serde_json::Value;

/// What an instant query gave.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// One finite value (the first series of a vector, or a scalar).
    Value(f64),
    /// Nothing to judge, and why.
    NoData(String),
}

/// Why an answer could not be read.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// Prometheus said the query failed.
    #[error("Prometheus answered {error_type}: {error}")]
    Failed {
        /// Its `errorType`.
        error_type: String,
        /// Its `error`.
        error: String,
    },
    /// Not a Prometheus answer.
    #[error("not a Prometheus query answer: {0}")]
    Garbage(String),
}

/// Read the JSON body of an instant query.
pub fn read(body: &str) -> Result<Answer, AnswerError> {
    let garbage = |why: &str| AnswerError::Garbage(format!("{why} in {}", body.chars().take(200).collect::<String>()));
    let value: Value = serde_json::from_str(body).map_err(|e| garbage(&e.to_string()))?;
    match value["status"].as_str() {
        Some("success") => {}
        Some("error") => {
            return Err(AnswerError::Failed {
                error_type: value["errorType"].as_str().unwrap_or("error").to_owned(),
                error: value["error"].as_str().unwrap_or_default().to_owned(),
            });
        }
        _ => return Err(garbage("no status")),
    }
    let data = &value["data"];
    let sample = match data["resultType"].as_str() {
        Some("vector") => match data["result"].as_array().map(Vec::as_slice) {
            Some([]) => return Ok(Answer::NoData("the query returned no series".to_owned())),
            Some([first, ..]) => &first["value"],
            None => return Err(garbage("no result")),
        },
        Some("scalar") => &data["result"],
        Some(other) => return Err(garbage(&format!("a {other} result (want a vector or a scalar)"))),
        None => return Err(garbage("no resultType")),
    };
    // A sample is [time, "value"]; Prometheus writes the value as a string ("NaN", "+Inf").
    let text = sample.get(1).and_then(Value::as_str).ok_or_else(|| garbage("a sample without a value"))?;
    let number: f64 = text.parse().map_err(|_| garbage(&format!("the value {text:?}")))?;
    if number.is_finite() {
        Ok(Answer::Value(number))
    } else {
        Ok(Answer::NoData(format!("the query returned {text} (no requests in the window?)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(value: &str) -> String {
        format!(
            r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[1700000000.1,"{value}"]}}]}}}}"#
        )
    }

    #[test]
    fn vectors_and_scalars_give_their_value() {
        assert_eq!(read(&vector("92.5")), Ok(Answer::Value(92.5)));
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"3"]}}"#;
        assert_eq!(read(scalar), Ok(Answer::Value(3.0)));
    }

    #[test]
    fn empty_nan_and_infinite_are_no_data() {
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(matches!(read(empty), Ok(Answer::NoData(m)) if m == "the query returned no series"));
        assert!(matches!(read(&vector("NaN")), Ok(Answer::NoData(_))));
        assert!(matches!(read(&vector("+Inf")), Ok(Answer::NoData(_))));
    }

    #[test]
    fn errors_and_garbage_say_what_came_back() {
        let error = r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#;
        assert_eq!(read(error).unwrap_err().to_string(), "Prometheus answered bad_data: parse error at char 5");
        let e = read("<html>502 Bad Gateway</html>").unwrap_err().to_string();
        assert!(e.starts_with("not a Prometheus query answer: ") && e.contains("502 Bad Gateway"), "{e}");
        let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(read(matrix).unwrap_err().to_string().contains("a matrix result"));
    }
}
