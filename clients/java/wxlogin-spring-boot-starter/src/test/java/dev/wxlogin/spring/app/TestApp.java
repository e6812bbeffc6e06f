package dev.wxlogin.spring.app;

import dev.wxlogin.spring.WxloginPrincipal;
import java.util.List;
import java.util.Map;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.security.access.prepost.PreAuthorize;
import org.springframework.security.config.annotation.method.configuration.EnableMethodSecurity;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.GrantedAuthority;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** The app the starter's tests protect: no security code of its own beyond one role check. */
@SpringBootApplication
@EnableMethodSecurity
public class TestApp {

    @RestController
    static class Endpoints {

        @GetMapping("/whoami")
        Map<String, Object> whoami(@AuthenticationPrincipal WxloginPrincipal user, Authentication authentication) {
            List<String> authorities = authentication.getAuthorities().stream()
                    .map(GrantedAuthority::getAuthority)
                    .sorted()
                    .toList();
            return Map.of("userId", user.userId(), "appid", user.appid(), "sessionId", user.sessionId(),
                    "roles", user.roles(), "authorities", authorities, "name", authentication.getName());
        }

        @GetMapping("/admin-only")
        @PreAuthorize("hasRole('admin')")
        String adminOnly(@AuthenticationPrincipal WxloginPrincipal user) {
            return "hello admin " + user.userId();
        }
    }
}
