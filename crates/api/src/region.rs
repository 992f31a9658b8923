//! The region table of compliance-api.md section 1.

use std::fmt;

/// A Genesys Cloud region: the API host is `https://api.<domain>` and the
/// OAuth host `https://login.<domain>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// AWS-style name, such as `eu-west-1`.
    pub name: &'static str,
    /// Short prefix, where the region has one (`usw2`, `cac1`, ...).
    pub prefix: Option<&'static str>,
    /// Domain of the region's hosts, such as `mypurecloud.ie`.
    pub domain: &'static str,
}

const fn region(name: &'static str, prefix: Option<&'static str>, domain: &'static str) -> Region {
    Region {
        name,
        prefix,
        domain,
    }
}

/// All 18 regions of the contract.
pub const REGIONS: [Region; 18] = [
    region("us-east-1", None, "mypurecloud.com"),
    region("us-east-2", Some("use2"), "use2.us-gov-pure.cloud"),
    region("us-west-2", Some("usw2"), "usw2.pure.cloud"),
    region("ca-central-1", Some("cac1"), "cac1.pure.cloud"),
    region("sa-east-1", Some("sae1"), "sae1.pure.cloud"),
    region("mx-central-1", Some("mxc1"), "mxc1.pure.cloud"),
    region("eu-west-1", None, "mypurecloud.ie"),
    region("eu-west-2", Some("euw2"), "euw2.pure.cloud"),
    region("eu-central-1", None, "mypurecloud.de"),
    region("eu-central-2", Some("euc2"), "euc2.pure.cloud"),
    region("eusc-de-east-1", Some("edee1"), "edee1.eusc-pure.cloud"),
    region("me-central-1", Some("mec1"), "mec1.pure.cloud"),
    region("ap-south-1", Some("aps1"), "aps1.pure.cloud"),
    region("ap-southeast-1", Some("apse1"), "apse1.pure.cloud"),
    region("ap-southeast-2", None, "mypurecloud.com.au"),
    region("ap-northeast-1", None, "mypurecloud.jp"),
    region("ap-northeast-2", Some("apne2"), "apne2.pure.cloud"),
    region("ap-northeast-3", Some("apne3"), "apne3.pure.cloud"),
];

/// A region name that matches no region.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a Genesys Cloud region; give an AWS-style name (such as eu-west-1), \
     a short prefix (such as usw2) or a domain (such as mypurecloud.ie)"
)]
pub struct RegionParseError(pub String);

impl Region {
    /// Finds a region by AWS-style name, short prefix or domain (case-insensitive;
    /// an `api.` or `login.` host of the domain is accepted too).
    pub fn parse(s: &str) -> Result<Region, RegionParseError> {
        let wanted = s.trim().trim_end_matches('.').to_ascii_lowercase();
        let domain = wanted
            .strip_prefix("api.")
            .or_else(|| wanted.strip_prefix("login."))
            .unwrap_or(&wanted);
        REGIONS
            .into_iter()
            .find(|r| r.name == wanted || r.prefix == Some(wanted.as_str()) || r.domain == domain)
            .ok_or_else(|| RegionParseError(s.to_string()))
    }
    /// `https://api.<domain>`.
    pub fn api_base_url(&self) -> String {
        format!("https://api.{}", self.domain)
    }
    /// `https://login.<domain>` (the OAuth host).
    pub fn login_base_url(&self) -> String {
        format!("https://login.{}", self.domain)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_is_found_by_name_prefix_and_domain() {
        assert_eq!(REGIONS.len(), 18);
        for r in REGIONS {
            assert_eq!(Region::parse(r.name).unwrap(), r);
            assert_eq!(Region::parse(r.domain).unwrap(), r);
            assert_eq!(Region::parse(&r.domain.to_uppercase()).unwrap(), r);
            if let Some(p) = r.prefix {
                assert_eq!(Region::parse(p).unwrap(), r);
                assert!(r.domain.starts_with(p));
            }
        }
    }

    /// The contract's table (compliance-api.md, section 1), row by row.
    const CONTRACT: &str = "\
| us-east-1 | mypurecloud.com |
| us-east-2 | use2.us-gov-pure.cloud |
| us-west-2 | usw2.pure.cloud |
| ca-central-1 | cac1.pure.cloud |
| sa-east-1 | sae1.pure.cloud |
| mx-central-1 | mxc1.pure.cloud |
| eu-west-1 | mypurecloud.ie |
| eu-west-2 | euw2.pure.cloud |
| eu-central-1 | mypurecloud.de |
| eu-central-2 | euc2.pure.cloud |
| eusc-de-east-1 | edee1.eusc-pure.cloud |
| me-central-1 | mec1.pure.cloud |
| ap-south-1 | aps1.pure.cloud |
| ap-southeast-1 | apse1.pure.cloud |
| ap-southeast-2 | mypurecloud.com.au |
| ap-northeast-1 | mypurecloud.jp |
| ap-northeast-2 | apne2.pure.cloud |
| ap-northeast-3 | apne3.pure.cloud |";

    #[test]
    fn the_table_is_the_contracts() {
        let rows: Vec<(&str, &str)> = CONTRACT
            .lines()
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (cells[1], cells[2])
            })
            .collect();
        let ours: Vec<(&str, &str)> = REGIONS.iter().map(|r| (r.name, r.domain)).collect();
        assert_eq!(ours, rows);
    }

    #[test]
    fn hosts_follow_the_domain() {
        let r = Region::parse("usw2").unwrap();
        assert_eq!(r.name, "us-west-2");
        assert_eq!(r.api_base_url(), "https://api.usw2.pure.cloud");
        assert_eq!(r.login_base_url(), "https://login.usw2.pure.cloud");
        assert_eq!(
            Region::parse("api.mypurecloud.ie").unwrap().name,
            "eu-west-1"
        );
    }

    #[test]
    fn unknown_regions_are_refused_with_what_is_allowed() {
        let err = Region::parse("mars-north-1").unwrap_err();
        assert!(err.to_string().contains("AWS-style name"));
        assert!(Region::parse("pure.cloud").is_err());
    }
}
