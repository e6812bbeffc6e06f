package dev.wxlogin.sample;

import dev.wxlogin.spring.WxloginPrincipal;
import java.util.Map;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * A service of the team's own backend that the mini program calls with its wxlogin token.
 * There is no security code here: the starter and two properties (application.properties)
 * make every request need a valid token, and hand the controller the user it speaks for.
 */
@SpringBootApplication
public class SampleApplication {

    public static void main(String[] args) {
        SpringApplication.run(SampleApplication.class, args);
    }

    @RestController
    static class Greeting {

        @GetMapping("/api/hello")
        Map<String, Object> hello(@AuthenticationPrincipal WxloginPrincipal user) {
            return Map.of("hello", user.userId(), "appid", user.appid(), "roles", user.roles());
        }
    }
}
