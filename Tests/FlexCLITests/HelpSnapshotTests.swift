import FlexCLI
import FlexRuntime
import Testing

@Suite("help text")
struct HelpSnapshotTests {
    @Test("flexctl activation --help matches the snapshot")
    func activationHelp() throws {
        let help = Flexctl.helpMessage(for: ActivationCommand.self, columns: 80)
        try Snapshot.check(help + "\n", named: "activation-help.txt")
    }

    @Test("flexctl --help lists the activation subcommand")
    func rootHelp() {
        // No snapshot here: the root help changes with every subcommand another engineer adds.
        let help = Flexctl.helpMessage(for: Flexctl.self, columns: 80)
        #expect(help.contains("USAGE: flexctl <subcommand>"))
        #expect(help.contains("activation"))
    }

    @Test("the help lists every member and the alpha rules")
    func helpMentionsMembers() {
        let help = Flexctl.helpMessage(for: ActivationCommand.self, columns: 200)
        for name in ["p-sig-ramp", "p-tanh-ramp", "p-e-relu", "p-e2-relu", "p-e2-id", "relu"] {
            #expect(help.contains(name), "help does not mention \(name)")
        }
        #expect(help.contains("--alpha"))
        #expect(help.contains("--plot"))
    }

    @Test("version is the release number and the recorded commit")
    func version() {
        #expect(Flexctl.configuration.version == FlexctlVersion.description)
        #expect(FlexctlVersion.description.hasPrefix(FlexctlVersion.number + " (commit "))
        #expect(Flexctl.configuration.commandName == "flexctl")
    }
}
