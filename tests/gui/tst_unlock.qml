import QtQuick
import QtTest
import Custodia

// TestCase itself is invisible: the screens go on this visible stage.
Item {
    id: stage
    width: 480
    height: 800

    Component {
        id: pageComponent
        UnlockPage {}
    }

    TestCase {
        id: testCase
        name: "Unlock"
        when: windowShown

        readonly property string passphrase: "the right passphrase, long"

        function makePage(vault) {
            const page = createTemporaryObject(pageComponent, stage,
                                               { vault: vault, width: stage.width, height: stage.height });
            verify(page !== null);
            waitForRendering(page);
            return page;
        }

        function attempt(page, text) {
            const field = findChild(page, "passphraseField");
            field.text = text;
            mouseClick(findChild(page, "unlockButton"));
            compare(field.text, "", "the field forgets what was typed");
            tryCompare(page.vault, "busy", false, 10000);
        }

        function test_wrong_passphrase_says_so() {
            const vault = support.lockedVault(passphrase, "Investigator B");
            compare(vault.state, VaultModel.Locked);
            const page = makePage(vault);
            attempt(page, "not the passphrase");
            compare(vault.state, VaultModel.Locked);
            compare(findChild(page, "errorLabel").text, "That passphrase does not open this vault.");
            verify(!findChild(page, "waitLabel").visible, "no wait after one failure");
        }

        function test_empty_passphrase_is_not_tried() {
            const vault = support.lockedVault(passphrase, "Investigator B");
            const page = makePage(vault);
            mouseClick(findChild(page, "unlockButton"));
            compare(vault.busy, false);
            compare(findChild(page, "errorLabel").text, "Type your passphrase.");
        }

        function test_right_passphrase_unlocks() {
            const vault = support.lockedVault(passphrase, "Investigator B");
            const page = makePage(vault);
            const spy = createTemporaryObject(spyComponent, testCase,
                                              { target: vault, signalName: "unlocked" });
            attempt(page, passphrase);
            compare(vault.state, VaultModel.Unlocked);
            compare(spy.count, 1);
            compare(vault.investigator, "Investigator B");
            compare(vault.errorMessage, "");
            verify(vault.deviceKey.length > 40, "the device key is known once unlocked");
        }

        function test_enter_key_unlocks() {
            const vault = support.lockedVault(passphrase, "Investigator B");
            const page = makePage(vault);
            const field = findChild(page, "passphraseField");
            field.forceActiveFocus();
            field.text = passphrase;
            keyClick(Qt.Key_Return);
            tryCompare(vault, "state", VaultModel.Unlocked, 10000);
        }

        // FORMAT.md "Failed unlocks": five failures are free, the sixth
        // attempt must wait 30 s, and the wait is kept on disk.
        function test_back_off_after_five_failures_survives_a_restart() {
            const vault = support.lockedVault(passphrase, "Investigator B");
            const page = makePage(vault);
            for (let i = 0; i < 4; ++i) {
                attempt(page, "wrong " + i);
                compare(vault.waitSeconds, 0, "failure " + (i + 1) + " is free");
            }
            attempt(page, "wrong 5");
            verify(vault.waitSeconds > 20 && vault.waitSeconds <= 30, "waits " + vault.waitSeconds);
            verify(findChild(page, "waitLabel").visible);
            verify(findChild(page, "waitLabel").text.indexOf("try again in") >= 0);
            verify(findChild(page, "errorLabel").text.indexOf("Too many failed attempts") >= 0);
            verify(!findChild(page, "unlockButton").enabled, "the button waits too");

            // Even the right passphrase is not tried while waiting.
            findChild(page, "passphraseField").text = passphrase;
            vault.unlock(passphrase);
            compare(vault.busy, false);
            compare(vault.state, VaultModel.Locked);

            // A restarted app reads the wait back from the vault directory.
            const again = support.reopen(vault);
            tryVerify(() => again.waitSeconds > 20, 5000, "the restarted app waits too");
            const page2 = makePage(again);
            verify(!findChild(page2, "unlockButton").enabled);
        }

        Component {
            id: spyComponent
            SignalSpy {}
        }
    }
}
