import HeidiCore
import HeidiTestSupport
import Testing

/// heidid shares its config file with heidi-web (SPEC §12): it accepts the `web:` section and leaves it to heidi-web.
@Suite("Config: the web section")
struct ConfigWebSectionTests {
    @Test("a config with a web: section loads in heidid; its keys change nothing heidid reads")
    func webSectionIgnored() throws {
        let directory = Scratch.directory("config-web")
        let path = directory + "/heidi.yaml"
        try FileSystem.writeAtomically(
            path,
            Array(
                """
                pipeline:
                  rounds: 3
                web:
                  listen: 127.0.0.1:7779
                  password_file: /etc/heidi/web-password
                  anything_heidi_web_knows: [a, b]
                """.utf8
            )
        )
        let config = try ConfigLoader.load(path: path, environment: ["HOME": directory])
        #expect(config.rounds == 3)
    }
}
