//! Who may do what (TCA_API.md §3.3): one value holding the caller's roles around an object, and
//! one method per kind of action. Handlers ask these; no handler compares roles itself.

use crate::domain::org::Role;

/// The caller's roles in one org, and optionally in one team and on one repo of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Access {
    pub is_superuser: bool,
    pub org_role: Option<Role>,
    pub team_role: Option<Role>,
    pub is_repo_creator: bool,
}

impl Access {
    fn is_org_admin(&self) -> bool {
        self.is_superuser || self.org_role == Some(Role::Admin)
    }

    /// Read the org and its scheme templates, create teams in it.
    pub fn can_view_org(&self) -> bool {
        self.is_org_admin() || self.org_role.is_some()
    }

    /// Change the org's members.
    pub fn can_admin_org(&self) -> bool {
        self.is_org_admin()
    }

    /// Read a team and everything in it; create schemes and projects; cancel jobs.
    pub fn can_view_team(&self) -> bool {
        self.is_org_admin() || self.team_role.is_some()
    }

    /// Change a team's members, register repositories.
    pub fn can_admin_team(&self) -> bool {
        self.is_org_admin() || self.team_role == Some(Role::Admin)
    }

    /// Change or delete a project (TCA's `RepositoryProjectDefaultPermission` for unsafe
    /// methods): team admin, org admin, superuser, or a team member who registered its
    /// repository or made the project.
    pub fn can_change_project(&self, is_project_creator: bool) -> bool {
        self.can_admin_team()
            || ((self.is_repo_creator || is_project_creator) && self.team_role.is_some())
    }

    /// Triage a project's findings (resolve, ignore, reopen, re-rate, re-assign, comment): any
    /// member of the team, as TCA's operation permission lets members work with the team's
    /// projects; org admins and superusers too. Nobody outside the team.
    pub fn can_triage(&self) -> bool {
        self.can_view_team()
    }

    /// `scans/create`: team admin, org admin, repo creator or superuser; a plain member may not.
    pub fn can_start_scan(&self) -> bool {
        self.can_admin_team() || (self.is_repo_creator && self.team_role.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_team_member_may_read_but_not_scan_or_register() {
        let member = Access {
            org_role: Some(Role::Member),
            team_role: Some(Role::Member),
            ..Access::default()
        };
        assert!(member.can_view_team());
        assert!(!member.can_start_scan());
        assert!(!member.can_admin_team());
        let creator = Access {
            is_repo_creator: true,
            ..member
        };
        assert!(creator.can_start_scan());
    }

    #[test]
    fn an_org_member_outside_the_team_sees_nothing_of_it() {
        let outsider = Access {
            org_role: Some(Role::Member),
            ..Access::default()
        };
        assert!(outsider.can_view_org());
        assert!(!outsider.can_view_team());
        let superuser = Access {
            is_superuser: true,
            ..Access::default()
        };
        assert!(superuser.can_start_scan() && superuser.can_admin_org());
    }
}
