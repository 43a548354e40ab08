//! Which function of the stack a schedule's target Arn names.

use std::collections::HashMap;
use std::sync::Arc;

use crate::stack::Function;

/// A function of the stack, as a schedule target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionTarget {
    pub logical_id: String,
    /// The name to pass to the Invoke API.
    pub invoke_name: String,
}

/// The functions of the stack, by their unqualified Arn.
#[derive(Debug, Default)]
pub struct Targets {
    by_arn: HashMap<String, Arc<FunctionTarget>>,
}

impl Targets {
    /// Functions without an Arn in the stack description cannot be targeted and are left out.
    pub fn new(functions: &[Function]) -> Self {
        let by_arn = functions
            .iter()
            .filter_map(|function| {
                let arn = function.arn.as_deref()?;
                let target = FunctionTarget {
                    logical_id: function.logical_id.clone(),
                    invoke_name: function.invoke_name.clone(),
                };
                Some((unqualified(arn).to_owned(), Arc::new(target)))
            })
            .collect();
        Self { by_arn }
    }

    /// The function `arn` names, with or without a version or alias qualifier (locally
    /// there is one version of each function: the one `cargo lambda watch` builds).
    pub fn find(&self, arn: &str) -> Option<Arc<FunctionTarget>> {
        self.by_arn.get(unqualified(arn)).cloned()
    }

    /// `(arn, target)` pairs, sorted by Arn, for the start-up banner.
    pub fn list(&self) -> Vec<(&str, &FunctionTarget)> {
        let mut list: Vec<_> = self
            .by_arn
            .iter()
            .map(|(arn, target)| (arn.as_str(), target.as_ref()))
            .collect();
        list.sort_unstable_by_key(|(arn, _)| *arn);
        list
    }

    pub fn is_empty(&self) -> bool {
        self.by_arn.is_empty()
    }
}

/// `arn:aws:lambda:us-east-1:123456789012:function:name:qualifier` without `:qualifier`.
/// Anything that is not a qualified Lambda function Arn is returned as it is.
fn unqualified(arn: &str) -> &str {
    let mut parts = arn.splitn(8, ':');
    let head: Vec<&str> = parts.by_ref().take(7).collect();
    match (head.as_slice(), parts.next()) {
        (["arn", _, "lambda", _, _, "function", _], Some(qualifier)) => {
            &arn[..arn.len() - qualifier.len() - 1]
        }
        _ => arn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET_ARN: &str =
        "arn:aws:lambda:us-east-1:123456789012:function:checkout-local-OrderGetFunction";

    fn function(logical_id: &str, invoke_name: &str, arn: Option<&str>) -> Function {
        Function {
            logical_id: logical_id.to_owned(),
            invoke_name: invoke_name.to_owned(),
            arn: arn.map(str::to_owned),
            events: Vec::new(),
        }
    }

    fn targets() -> Targets {
        Targets::new(&[
            function("OrderGetFunction", "order-get", Some(GET_ARN)),
            function("NoArnFunction", "no-arn", None),
        ])
    }

    #[test]
    fn a_function_arn_of_the_stack_names_its_function_under_its_invoke_name() {
        let target = targets().find(GET_ARN).expect("the function is a target");
        assert_eq!(target.logical_id, "OrderGetFunction");
        assert_eq!(target.invoke_name, "order-get");
    }

    #[test]
    fn a_version_or_alias_qualifier_names_the_same_function() {
        let targets = targets();
        for qualifier in ["$LATEST", "7", "live"] {
            let arn = format!("{GET_ARN}:{qualifier}");
            let target = targets.find(&arn);
            assert_eq!(
                target.map(|t| t.invoke_name.clone()).as_deref(),
                Some("order-get"),
                "{arn}"
            );
        }
    }

    #[test]
    fn arns_of_other_functions_accounts_or_services_name_no_target() {
        let targets = targets();
        for arn in [
            "arn:aws:lambda:us-east-1:123456789012:function:someone-else",
            "arn:aws:lambda:us-east-1:999999999999:function:checkout-local-OrderGetFunction",
            "arn:aws:sqs:us-east-1:123456789012:checkout-local-OrderGetFunction",
            "checkout-local-OrderGetFunction",
            "",
        ] {
            assert!(targets.find(arn).is_none(), "{arn}");
        }
    }

    #[test]
    fn functions_without_an_arn_are_not_targets() {
        let targets = targets();
        assert_eq!(targets.list().len(), 1);
        assert!(!targets.is_empty());
        assert!(Targets::new(&[]).is_empty());
    }

    #[test]
    fn only_qualified_lambda_function_arns_lose_their_last_part() {
        assert_eq!(unqualified(&format!("{GET_ARN}:live")), GET_ARN);
        assert_eq!(unqualified(GET_ARN), GET_ARN);
        let queue = "arn:aws:sqs:us-east-1:123456789012:q:x";
        assert_eq!(unqualified(queue), queue);
    }
}
