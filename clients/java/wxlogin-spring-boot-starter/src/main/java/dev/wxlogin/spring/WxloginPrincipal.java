package dev.wxlogin.spring;

import java.security.Principal;
import java.util.List;

/**
 * Who a wxlogin access token speaks for: {@code @AuthenticationPrincipal WxloginPrincipal}.
 *
 * @param userId the wxlogin user id ({@code sub}): the key for the service's own tables
 * @param appid the mini program the user logged in through ({@code aud})
 * @param sessionId the login session ({@code sid}); it ends at logout or an admin's revoke
 * @param roles what the team's backend granted ({@code PUT /admin/v1/users/{id}/roles});
 *     also the {@code ROLE_<role>} authorities
 */
public record WxloginPrincipal(String userId, String appid, String sessionId, List<String> roles)
        implements Principal {

    public WxloginPrincipal {
        roles = List.copyOf(roles);
    }

    @Override
    public String getName() {
        return userId;
    }

    public boolean hasRole(String role) {
        return roles.contains(role);
    }
}
